"""Animation: a captured face driving another face (`puppet`), and the `emoca animate` renders."""
