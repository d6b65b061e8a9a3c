"""`emoca serve`: the local web page (`app`)."""
