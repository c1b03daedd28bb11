#!/usr/bin/env python3
"""List Rust functions longer than a limit (default 120 lines), outside tests.

Usage: scripts/long-functions.py [LIMIT] [PATH...]   (default paths: core native-cli wasm)
Exit code 1 when a production function is over the limit and its doc comment does not say why it
stays whole ("stays whole"). Counting is by braces, skipping strings, chars and comments.
"""
import os
import re
import sys

FN = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+"C"\s+)?fn\s+(\w+)')


def strip(line):
    """The line without string/char literals and // comments (good enough for brace counting)."""
    out, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if line.startswith('//', i):
            break
        if c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == '\\' else 1
            i += 1
            continue
        if c == "'" and i + 2 < n and (line[i + 2] == "'" or line[i + 1] == '\\'):
            j = line.find("'", i + 2)
            i = j + 1 if j > 0 else i + 1
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def functions(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    in_tests = None
    depth = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r'\s*#\[cfg\(test\)\]', line) and in_tests is None:
            in_tests = depth
        m = FN.match(line)
        if m and in_tests is None:
            start, d, opened = i, 0, False
            j = i
            while j < len(lines):
                s = strip(lines[j])
                if not opened and ';' in s and '{' not in s:
                    break
                for ch in s:
                    if ch == '{':
                        d += 1
                        opened = True
                    elif ch == '}':
                        d -= 1
                if opened and d == 0:
                    break
                j += 1
            if opened:
                doc = '\n'.join(lines[max(0, start - 8):start])
                yield m.group(7), start + 1, j - start + 1, 'stays whole' in doc
        depth += strip(line).count('{') - strip(line).count('}')
        i += 1


def main():
    args = sys.argv[1:]
    limit = int(args.pop(0)) if args and args[0].isdigit() else 120
    roots = args or ['core', 'native-cli', 'wasm']
    bad = 0
    rows = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            if '/target' in dirpath or '/tests' in dirpath or '/benches' in dirpath or '/examples' in dirpath:
                continue
            for f in files:
                if f.endswith('.rs'):
                    p = os.path.join(dirpath, f)
                    for name, line, n, excused in functions(p):
                        rows.append((n, p, line, name, excused))
    rows.sort(reverse=True)
    for n, p, line, name, excused in rows[:15]:
        flag = '' if n <= limit else (' (stays whole: see its comment)' if excused else '  <-- over limit')
        print(f'{n:5} {p}:{line} {name}{flag}')
        if n > limit and not excused:
            bad += 1
    sys.exit(1 if bad else 0)


main()
