"""Developer tools that write into the repository (not shipped in the strangler package)."""
