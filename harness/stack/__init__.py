"""The local stack: start the emulated AWS and the endpoint, deploy into them, stop them again."""
