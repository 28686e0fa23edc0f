"""Key delivery into vaults, staged rotation (pending → current → previous) and its scheduler."""
