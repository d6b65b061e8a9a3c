"""Neural networks: the emotion recogniser and the independent judge."""
