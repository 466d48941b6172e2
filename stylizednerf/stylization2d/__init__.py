"""2D stylization: the frozen VGG-19 encoder, AdaIN, the trained decoder and the style VAE (METHOD.md 3-4)."""
