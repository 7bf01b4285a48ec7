"""The dashboard in the reader's language (:mod:`silicio.i18n`): which language a request gets,
the language switch, and the templates' ``_()`` / ``ngettext()`` and formatting filters.

A request's language is the one its ``?lang=es|en`` asks for, which a cookie then remembers
(the switch in the navigation bar is such a link); else the signed-in account's preference (set
on ``/account`` or with ``silicio users language``); else the one the cookie remembers; else the
browser's ``Accept-Language``; else English. The account's preference comes before the cookie: it
follows the person to another browser, and ``?lang=`` still switches one page.

Templates mark text with ``{{ _("Final yield") }}`` (a ``%`` in the text is written ``%%``: the
messages are Python format strings, so ``_("%(n)s lots", n=3)`` fills them) and plurals with
``{{ ngettext("%(num)s row", "%(num)s rows", n) }}``. Column titles of the page models, the
navigation titles of the page declarations and :data:`CHART_TEXT` are translated where they are
used; tests/web/test_i18n.py checks that each has its Spanish.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from jinja2 import Environment, pass_context

from silicio.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    NATIVE_NAMES,
    choose_language,
    language_code,
    translation,
)
from silicio.i18n.computed import translate_computed

from . import format as fmt
from .access import principal_of

#: The cookie that remembers a ``?lang=`` choice, and for how long (a year).
LANGUAGE_COOKIE = "silicio_lang"
_COOKIE_SECONDS = 365 * 86_400

#: Text the charts draw (static/dashboard.js, static/spc.js), handed to them translated in the page.
CHART_TEXT = (
    "final yield (%)", "lot start", "final yield", "fail share", "parts", "cumulative %", "dies", "mean",
    "bin", "part", "point", "results", "phase II →", "rules", "phase",
    # static/spatial.js
    "share of wafers (%)", "wafers", "kill ratio", "capture rate", "fraction", "class", "defect", "die failed",
    "die passed",
)  # fmt: skip
#: Values an area computes that the templates show through ``_()``: the supply page's import
#: concentration (the web's own such values are marked with :func:`silicio.i18n.N_` where made).
SHOWN_VALUES = ("highly concentrated", "not highly concentrated")


def language_of(request: Request) -> str:
    """The request's language (see the module notes), worked out once per request."""
    known = getattr(request.state, "language", None)
    if known is None:
        known = choose_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE),
                                request.headers.get("accept-language"), principal_of(request).language)  # fmt: skip
        request.state.language = known
    return known


def gettext(request: Request, message: str) -> str:
    return translation(language_of(request)).gettext(message)


def language_links(request: Request) -> list[tuple[str, str, str, bool]]:
    """The language switch: (code, name, this page's URL in that language, is the current one)."""
    current = language_of(request)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [
        (
            code,
            NATIVE_NAMES[code],
            f"{request.url.path}?{urlencode([*query, ('lang', code)])}",
            code == current,
        )
        for code in LANGUAGES
    ]


def chart_text(request: Request) -> dict[str, str]:
    translated = translation(language_of(request))
    return {text: translated.gettext(text) for text in CHART_TEXT}


def _language(context) -> str:
    # A template that imports the macros without context has no request: English, not an error.
    request = context.get("request")
    return language_of(request) if request is not None else DEFAULT_LANGUAGE


@pass_context
def _gettext(context, message: str) -> str:
    return translation(_language(context)).gettext(message)


@pass_context
def _ngettext(context, singular: str, plural: str, n: int) -> str:
    return translation(_language(context)).ngettext(singular, plural, n)


def _filter(function):
    @pass_context
    def apply(context, value: Any, *args: Any) -> str:
        return function(value, *args, language=_language(context))

    return apply


def _computed(value: Any, language: str) -> Any:
    return translate_computed(value, language) if isinstance(value, str) else value


def install_templates(env: Environment) -> None:
    """``_``, ``gettext`` and ``ngettext`` in the templates, in the request's language, and the
    formatting filters: ``cell(display)``, ``number(digits)``, ``integer``, ``percent``,
    ``share``, ``money``, ``date``, ``datetime``, ``yesno``, and ``computed`` (text the code
    computed in English, :mod:`silicio.i18n.computed`)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=_gettext, ngettext=_ngettext, newstyle=True)  # type: ignore[attr-defined]

    @pass_context
    def long_date(context, value: Any) -> str:
        return fmt.format_date(value, _language(context), long=True)

    env.filters.update(
        cell=_filter(fmt.format_cell),
        number=_filter(fmt.format_number),
        integer=_filter(fmt.format_integer),
        percent=_filter(fmt.format_percent),
        share=_filter(fmt.format_share),
        money=_filter(fmt.format_money),
        date=_filter(fmt.format_date),
        long_date=long_date,
        datetime=_filter(fmt.format_datetime),
        yesno=_filter(fmt.format_bool),
        computed=_filter(_computed),
    )
    env.globals.update(
        language_of=language_of,
        html_lang=lambda request: LANGUAGES[language_of(request)],
        language_links=language_links,
        chart_text=chart_text,
    )


def install(app: FastAPI) -> None:
    """Remember a ``?lang=`` choice in a cookie; say that pages vary by language."""

    @app.middleware("http")
    async def remember_language(request: Request, call_next):
        response = await call_next(request)
        asked = language_code(request.query_params.get("lang"))
        if asked is not None and request.cookies.get(LANGUAGE_COOKIE) != asked:
            response.set_cookie(
                LANGUAGE_COOKIE, asked, max_age=_COOKIE_SECONDS, samesite="lax", httponly=True
            )
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.append("Vary", "Accept-Language, Cookie")
        return response
