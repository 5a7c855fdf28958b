"""specgen: design spaces of convolutional networks, written as data, turned into code.

Built around "Designing Network Design Spaces" (Radosavovic et al., CVPR 2020).
"""

__version__ = "0.1.0"
