"""Evidence files: their bytes (storage), how an upload is taken in, and the use cases."""
