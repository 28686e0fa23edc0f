"""The composition root: builds engines, peppers, caches and services from Settings."""

from keyguard.runtime.container import Runtime

__all__ = ["Runtime"]
