"""The GPU route: the training cache packed for a leased GPU machine, and its checkpoints back."""
