# Builds the small copy of flash-linear-attention (fla) that peer_fla_time.py imports on the
# device: only the Python files `fla.ops.rwkv7.chunk` reaches through its imports, read from a
# git directory of fla (the `fetch` tool's mirror), plus fla's LICENSE. The whole package would
# pull in fla.layers / fla.models (transformers models, einops, ...) through fla/__init__.py and
# every op family through fla/ops/__init__.py, so those two are replaced by stubs that import
# nothing; the op files themselves are copied unchanged.
#
# Usage: python3 fla_tree.py FLA_GIT_DIR OUT_DIR [REV]   (OUT_DIR, e.g. .fla, is emptied first)
# The same import walk checks a built tree without torch or triton: peer_fla_time.py --dry.
import ast
import os
import shutil
import subprocess
import sys

START = 'fla.ops.rwkv7.chunk'
# Package initialisers replaced by stubs, and why: see the header.
STUBS = {
    'fla/__init__.py': '# Stub written by RWKV Studio\'s fla_tree.py: the real one imports fla.layers and\n'
                       '# fla.models, which the WKV7 timing does not need.\n__version__ = "{version}"\n',
    'fla/ops/__init__.py': '# Stub written by RWKV Studio\'s fla_tree.py: the real one imports every op family.\n',
}


def walk_imports(read, exists, start=START):
    """The fla files the module `start` needs and the external top-level modules they import.

    read(path) -> source text; exists(path) -> bool; paths are relative to the tree root
    ('fla/ops/...py'). Returns (fla files, external names, unresolved fla modules). Imports
    inside functions count too (ast.walk sees them): cheaper to carry a file too many.
    """
    def module_file(mod):
        p = mod.replace('.', '/')
        if exists(p + '.py'):
            return p + '.py'
        if exists(p + '/__init__.py'):
            return p + '/__init__.py'
        return None

    seen, external, missing, todo = set(), set(), set(), [start]
    while todo:
        mod = todo.pop()
        f = module_file(mod)
        if f is None:
            missing.add(mod)
            continue
        if f in seen:
            continue
        seen.add(f)
        parts = mod.split('.')
        todo.extend('.'.join(parts[:i]) for i in range(1, len(parts)))  # parents' __init__ run first
        if f in STUBS:
            continue
        package = mod if f.endswith('__init__.py') else '.'.join(parts[:-1])
        for node in ast.walk(ast.parse(read(f), f)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split('.')[0] == 'fla':
                        todo.append(alias.name)
                    else:
                        external.add(alias.name.split('.')[0])
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split('.')[: len(package.split('.')) - node.level + 1]
                    target = '.'.join(base + ([node.module] if node.module else []))
                else:
                    target = node.module
                if target.split('.')[0] != 'fla':
                    external.add(target.split('.')[0])
                    continue
                todo.append(target)
                for alias in node.names:  # `from pkg import submodule`
                    if module_file(target + '.' + alias.name):
                        todo.append(target + '.' + alias.name)
    # The dispatcher (fla/ops/backends) imports `<op>.backends` by name and treats its absence as
    # "no alternative backend" (tilelang, not on the device): not missing.
    return sorted(seen), sorted(external), sorted(m for m in missing if not m.endswith('.backends'))


def main():
    git_dir, out = sys.argv[1], sys.argv[2]
    rev = sys.argv[3] if len(sys.argv) > 3 else 'HEAD'
    listed = set(subprocess.run(['git', '-C', git_dir, 'ls-tree', '-r', '--name-only', rev],
                                check=True, capture_output=True, text=True).stdout.split())

    def read(path):
        return subprocess.run(['git', '-C', git_dir, 'show', f'{rev}:{path}'], check=True,
                              capture_output=True, text=True).stdout

    files, external, missing = walk_imports(read, lambda p: p in listed)
    if missing:
        sys.exit(f'fla_tree: unresolved fla modules {missing}')
    commit = subprocess.run(['git', '-C', git_dir, 'rev-parse', rev], check=True, capture_output=True,
                            text=True).stdout.strip()
    version = 'unknown'
    for line in read('fla/__init__.py').splitlines():
        if line.startswith('__version__'):
            version = line.split('=')[1].strip().strip('"\'')
    shutil.rmtree(out, ignore_errors=True)
    for f in files + ['LICENSE']:
        dst = os.path.join(out, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, 'w') as fh:
            fh.write(STUBS[f].format(version=version) if f in STUBS else read(f))
    with open(os.path.join(out, 'FLA_COMMIT'), 'w') as fh:
        fh.write(f'{commit} {version}\n')
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(out) for n in ns)
    print(f'fla_tree: {len(files)} files from fla {version} ({commit[:12]}) into {out}, {size / 1e3:.0f} kB; '
          f'external imports: {", ".join(external)}')


if __name__ == '__main__':
    main()
