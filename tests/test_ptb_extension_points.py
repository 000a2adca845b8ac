"""The project extends python-telegram-bot only where PTB allows it: no ``@final`` method overridden.

PTB marks methods it may change the inside of at any release ``@typing.final`` (which sets
``__final__``): ``BaseRequest.post`` and ``BaseUpdateProcessor.process_update`` were overridden
once; the supported points are ``do_request`` and ``do_process_update``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import pytest

PACKAGES = ("bot", "handlers", "jobs", "models")


def project_classes() -> Iterator[type]:
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if ".devserver" in info.name or ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__:
                    yield cls


def overridden_finals(cls: type) -> list[str]:
    found = []
    for name in vars(cls):
        for base in cls.__mro__[1:]:
            if not base.__module__.startswith("telegram"):
                continue
            attribute = vars(base).get(name)
            if getattr(attribute, "__final__", False):
                found.append(f"{cls.__module__}.{cls.__qualname__}.{name} overrides {base.__qualname__}")
    return found


def test_no_project_class_overrides_a_final_method_of_python_telegram_bot() -> None:
    classes = list(project_classes())
    extending = [cls for cls in classes if any(b.__module__.startswith("telegram") for b in cls.__mro__[1:])]
    assert {cls.__name__ for cls in extending} >= {"PerChatUpdateProcessor", "InboxRequest"}
    assert [problem for cls in extending for problem in overridden_finals(cls)] == []


def test_the_check_sees_a_final_override() -> None:
    from telegram.request import BaseRequest

    class Overriding(BaseRequest):  # what InboxRequest once did
        async def post(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            return None

    if not getattr(BaseRequest.post, "__final__", False):
        pytest.skip("this PTB release no longer marks BaseRequest.post final")
    assert overridden_finals(Overriding)
