"""Face detection, 478 dense landmarks, the 68-point subset, and aligned crops."""
