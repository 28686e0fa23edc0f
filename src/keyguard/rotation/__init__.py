"""Key delivery into vaults, staged rotation (pending → current → previous) and its scheduler."""

from keyguard.rotation.delivery import Targets
from keyguard.rotation.models import KeyDelivery
from keyguard.rotation.scheduler import Scheduler, ScheduleReport
from keyguard.rotation.service import Delivered, Reconciled, RotationService, rotate_handed_out
from keyguard.rotation.tasks import scheduled_rotation

__all__ = [
    "Delivered",
    "KeyDelivery",
    "Reconciled",
    "RotationService",
    "ScheduleReport",
    "Scheduler",
    "Targets",
    "rotate_handed_out",
    "scheduled_rotation",
]
