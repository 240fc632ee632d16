"""--cli-auto-prompt: ask for an operation's parameters with completion.

Parameter names complete from the operation's options (required ones are asked
first); values complete with enum values for enum members, and with ``member=``
names (and enum values after ``member=``) for shorthand structures.  Returns the
extra command-line tokens, which the caller parses like any typed command line.
"""
from __future__ import annotations

import shlex
from typing import Any

from .model import Operation, Shape


def _value_words(shape: Shape) -> list[str]:
    t = shape.type_name
    if t == "list":
        return _value_words(shape.member)
    if t == "structure":
        words = []
        for name, m in shape.members.items():
            words.append(name + "=")
            for v in (m.enum if m.type_name == "string" else []):
                words.append(f"{name}={v}")
        return words
    if t == "string" and shape.enum:
        return list(shape.enum)
    if t == "boolean":
        return ["true", "false"]
    return []


def _completer(words: list[str], meta: dict[str, str] | None = None):
    from prompt_toolkit.completion import Completer, Completion

    class _C(Completer):
        def get_completions(self, document, complete_event):
            text = document.get_word_before_cursor(WORD=True)
            # complete the part after the last ',' (shorthand) or space
            frag = text.rsplit(",", 1)[-1]
            for w in words:
                if w.startswith(frag):
                    yield Completion(w, start_position=-len(frag), display_meta=(meta or {}).get(w, ""))

    return _C()


def prompt_for_arguments(op: Operation, table: dict, given: dict[str, Any], *,
                         only_required: bool = False) -> list[str]:
    from prompt_toolkit import PromptSession

    from .helppage import first_sentence

    session: PromptSession = PromptSession()
    extra: list[str] = []
    args = [a for a in table.values() if not a.hidden]

    def ask_value(arg) -> None:
        if arg.is_bool:
            ans = session.prompt(f"{arg.cli_name} (true/false): ",
                                 completer=_completer(["true", "false"])).strip().lower()
            if ans in ("true", "false"):
                extra.append(arg.cli_name if ans == "true" else "--no-" + arg.cli_name[2:])
            return
        shape = getattr(arg, "shape", None)
        words = _value_words(shape) if shape is not None else []
        ans = session.prompt(f"{arg.cli_name}: ", completer=_completer(words)).strip()
        if not ans:
            return
        extra.append(arg.cli_name)
        if getattr(arg, "nargs_list", False) and not ans.startswith("["):
            extra.extend(shlex.split(ans))
        else:
            extra.append(ans)

    for arg in args:
        if arg.required and arg.cli_name not in given:
            ask_value(arg)
    if only_required:
        return extra
    names = []
    meta = {}
    for arg in args:
        if arg.is_bool:
            names += [arg.cli_name, "--no-" + arg.cli_name[2:]]
        else:
            names.append(arg.cli_name)
        shape = getattr(arg, "shape", None)
        meta[arg.cli_name] = first_sentence(shape.documentation)[:60] if shape is not None else ""
    by_name = {a.cli_name: a for a in args}
    while True:
        name = session.prompt("Parameter (empty to run): ", completer=_completer(names, meta)).strip()
        if not name:
            break
        if name.startswith("--no-") and ("--" + name[5:]) in by_name and by_name["--" + name[5:]].is_bool:
            extra.append(name)
            continue
        if name in by_name and by_name[name].is_bool:
            extra.append(name)
            continue
        if name not in by_name:
            continue
        ask_value(by_name[name])
    return extra
