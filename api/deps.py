"""What endpoints get from the app: the one engine, the admission gate, the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.admission import Admission
from rag.config import Settings
from rag.engine import Engine


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_admission(request: Request) -> Admission:
    return request.app.state.admission


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(get_engine)]
AdmissionDep = Annotated[Admission, Depends(get_admission)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
