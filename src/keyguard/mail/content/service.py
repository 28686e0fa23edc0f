"""The template service the doors call: one transaction per state change, JSON answers."""

from __future__ import annotations

from keyguard.mail import views
from keyguard.mail.content import templates
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import TemplateIn, TemplatePatch
from keyguard.mail.transactions import Json, Transactional


class TemplatesService(Transactional):
    """Templates are named by id or by name (`ref`)."""

    def create(self, part: Partition, data: TemplateIn) -> Json:
        return self._write(lambda s, now: views.template(templates.create(s, part, data, now)))

    def get(self, part: Partition, ref: str) -> Json:
        return self._read(lambda s: views.template(templates.get(s, part, ref)))

    def page(self, part: Partition, *, limit: int | None = None, after: str | None = None) -> Json:
        found = self._read(lambda s: templates.page(s, part, limit=limit, after=after))
        return found.to_json(views.template)

    def update(self, part: Partition, ref: str, patch: TemplatePatch) -> Json:
        return self._write(
            lambda s, now: views.template(templates.update(s, part, ref, patch, now))
        )

    def delete(self, part: Partition, ref: str) -> None:
        self._write(lambda s, _now: templates.delete(s, part, ref))
