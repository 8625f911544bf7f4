"""Pictures: attention maps of the sparse head, detector feature maps, PR curves."""
