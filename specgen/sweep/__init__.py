"""Sweeps: sample a design space, train every sample, keep the results in a resumable store."""
