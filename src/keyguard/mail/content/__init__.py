"""Templates, rendering and MIME: what a message says and how it is built."""
