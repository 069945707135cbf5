"""``prodigy.components`` of the stand-in."""
