"""The only SQL for API keys and files."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from openrft.db.pagination import fetch_page
from openrft.db.tables import api_keys, files
from openrft.domain.records import FileRecord


class KeyRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, key_id: str, project: str, key_hash: str, created_at: int) -> None:
        self.session.execute(
            api_keys.insert().values(
                id=key_id, project=project, key_hash=key_hash, created_at=created_at
            )
        )

    def project_for_hash(self, key_hash: str) -> str | None:
        query = sa.select(api_keys.c.project).where(api_keys.c.key_hash == key_hash)
        return self.session.execute(query).scalar_one_or_none()

    def any_exist(self) -> bool:
        return self.session.execute(sa.select(api_keys.c.seq).limit(1)).first() is not None


def _file(row: Any) -> FileRecord:
    return FileRecord(
        id=row.id,
        project=row.project,
        filename=row.filename,
        purpose=row.purpose,
        bytes=row.bytes,
        created_at=row.created_at,
        rows=row.rows,
    )


class FileRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, record: FileRecord) -> None:
        self.session.execute(
            files.insert().values(
                id=record.id,
                project=record.project,
                filename=record.filename,
                purpose=record.purpose,
                bytes=record.bytes,
                rows=record.rows,
                created_at=record.created_at,
            )
        )

    def get(self, project: str, file_id: str) -> FileRecord | None:
        query = sa.select(files).where(files.c.project == project, files.c.id == file_id)
        row = self.session.execute(query).first()
        return _file(row) if row else None

    def page(
        self, project: str, *, purpose: str | None, after: str | None, limit: int, descending: bool
    ) -> tuple[list[FileRecord], bool]:
        where = files.c.project == project
        if purpose is not None:
            where = sa.and_(where, files.c.purpose == purpose)
        page = fetch_page(
            self.session, files, where, after=after, limit=limit, descending=descending
        )
        return [_file(row) for row in page.rows], page.has_more

    def total_bytes(self, project: str) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(files.c.bytes), 0))
        return int(self.session.execute(query.where(files.c.project == project)).scalar_one())

    def delete(self, project: str, file_id: str) -> bool:
        result = self.session.execute(
            files.delete().where(files.c.project == project, files.c.id == file_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
