"""The oracle for how train.py's argparse reads a command line.

Builds each trainer's ArgumentParser from the flag table (server/src/flags/flags.json: the flags
of that trainer, plus `argparseOnly`) the way its train.py declares them: `type=int` for int and
0/1 flags, `type=float`, `type=str` (json flags too: peft_config is str in the newest train.py;
the older *_config ones are json.loads, left to RWKV012), `action="store_true"` switches, nargs
lists. Every default is SUPPRESS so the namespace holds only what the command line gave, and
each type keeps the raw word once it converts, so the result compares with the server's words.

stdin: {"cases": [{"trainer": ..., "argv": [...]}]}; stdout: one outcome per case, in order:
{"ok": true, "given": {name: word | [words] | true}} or {"ok": false, "error": argparse's message}.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, '..', '..', 'src', 'flags', 'flags.json')


class ArgparseError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ArgparseError(message)

    def exit(self, status=0, message=None):
        raise ArgparseError('exit %d (--help)' % status)

    def print_help(self, file=None):
        pass


def raw(convert):
    def keep(word):
        convert(word)  # raises ValueError exactly as train.py's type would
        return word
    keep.__name__ = convert.__name__  # argparse names it in "invalid int value"
    return keep


def build(table, trainer):
    p = Parser(prog='train.py', argument_default=argparse.SUPPRESS)
    for f in table['flags']:
        if trainer not in f['trainers']:
            continue
        name = '--' + f['name']
        kind = f['type']
        if kind == 'switch':
            p.add_argument(name, action='store_true')
            continue
        kw = {}
        if f.get('nargs'):
            kw['nargs'] = f['nargs']
        conv = {'int': int, 'bool01': int, 'float': float}.get(kind, str)
        p.add_argument(name, type=raw(conv), **kw)
    for extra in table.get('argparseOnly', {}).get(trainer, []):
        if extra != 'help':
            p.add_argument('--' + extra, type=str)
    return p


def main():
    table = json.load(open(TABLE, encoding='utf-8'))
    cases = json.load(sys.stdin)['cases']
    parsers = {}
    out = []
    for case in cases:
        t = case['trainer']
        if t not in parsers:
            parsers[t] = build(table, t)
        try:
            ns = parsers[t].parse_args(case['argv'])
            out.append({'ok': True, 'given': vars(ns)})
        except ArgparseError as e:
            out.append({'ok': False, 'error': str(e)})
    json.dump({'python': sys.version.split()[0], 'outcomes': out}, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write('\n')


main()
