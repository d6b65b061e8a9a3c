"""Running on engines people already operate: Ray Data for corpus-scale reconstruction (`ray_reconstruct`),
torchrun for training (`torchrun`)."""
