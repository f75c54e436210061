"""Mutations of the harness's inputs: scenario and topology YAML, shell listings, results.json.

Structure-aware first (a parsed document changed at a random place, then written back),
byte-level second.  Everything is drawn from the `random.Random` it is given, so one
seed and one mutant number give one mutant.  What YAML or JSON writers cannot express
(duplicate keys, aliases, raw control characters, a 5,000-digit number, nesting deeper
than the writer's recursion) is put in as a placeholder and replaced in the text.
"""

from __future__ import annotations

import json
import random
from typing import Any

import yaml

# --------------------------------------------------------------------------- raw text


class Raws:
    """Placeholders for text the YAML/JSON writer would escape or cannot write."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, text: str) -> str:
        self.texts.append(text)
        return f"fzraw{len(self.texts) - 1:04d}zz"

    def fill(self, text: str) -> str:
        # Later placeholders may hold earlier ones (an anchor around a raw value): last first.
        # JSON writes a placeholder as a quoted string: the quotes go with it.
        for n in range(len(self.texts) - 1, -1, -1):
            mark = f"fzraw{n:04d}zz"
            text = text.replace(f'"{mark}"', self.texts[n]).replace(mark, self.texts[n])
        return text


CONTROL = ["\x00", "\x1b", "\x7f", "\n", "\r", "\t", "\x0b", "\x0c", "\x08", "\x85", "\u2028"]
PATHS = [
    "../x",
    "../../../../../../tmp/fuzz-escape",
    "/abs",
    "/etc/passwd",
    "a/b",
    ".",
    "..",
    "~",
    "-rf",
    "x;id",
    "$(id)",
    "`id`",
    "%s%n",
    "*",
    "[x]",
    "{}",
    "x\\y",
]
# Plain YAML scalars that are not the string they look like (YAML 1.1, PyYAML's resolver).
LOOKALIKES = ["10", "yes", "no", "on", "off", "null", "~", "0x1F", "1e3", "0o17", ".inf", ".nan"]
LOOKALIKES += ["2001-12-14", "12:30:00", "-0", "+1", "0b101", "1_000", "'", '"', "- x", "? x"]
ADDRESSES = ["192.0.2.1/33", "300.1.1.1", "0.0.0.0", "255.255.255.255", "2001:db8::/129", "::"]
ADDRESSES += ["fe80::1%eth0", "192.0.2.1/-1", "10.0.0.1", "2001:db8::1/64/64", "::ffff:192.0.2.1"]
UNICODE = ["ééééééééé", "\u202eevil", "😀", "\u200b", "\ufeffx", "Ω" * 20, "a\u0301"]
TAGS = [
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1, b: 2]",
    "!!timestamp 2001-12-14",
    "!!float nan",
    "!custom x",
    "!!int x",
    "!!str 1",
    "!!map {}",
    "!!null ''",
]


def long_string(rng: random.Random) -> str:
    return rng.choice("xa-é") * rng.choice([16, 64, 256, 4096, 70000])


def control_string(rng: random.Random) -> str:
    chars = "".join(rng.choice(CONTROL) for _ in range(rng.randint(1, 3)))
    return rng.choice(["", "a", "eth0", "x-1"]) + chars + rng.choice(["", "b", "[31mred"])


def huge_int(rng: random.Random) -> str:
    digits = rng.choice([20, 40, 400, 4300, 4301, 5000, 20000])
    return rng.choice(["", "-"]) + "9" * digits


def weird_string(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return long_string(rng)
    if kind == 1:
        return control_string(rng)
    if kind == 2:
        return rng.choice(PATHS)
    if kind == 3:
        return rng.choice(ADDRESSES)
    if kind == 4:
        return rng.choice(UNICODE)
    return rng.choice(["", " ", "x", "eth0", "lo", "a" * 16, "a" * 15, "-", "__", "A-B.c_d"])


def weird_value(rng: random.Random, raws: Raws, donors: list[Any]) -> Any:
    """A value of another type or an edge of one: for anywhere in a YAML document."""
    kind = rng.randrange(14)
    if kind == 0:
        return rng.choice(
            [None, True, False, 0, -1, 1, 65535, 65536, 2**31, 2**63, 2**64, -(2**63)]
        )
    if kind == 1:
        return rng.choice([1.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan")])
    if kind in (2, 3):
        return weird_string(rng)
    if kind == 4:
        return raws.add(rng.choice(LOOKALIKES))
    if kind == 5:
        return raws.add(huge_int(rng))
    if kind == 6:
        return raws.add(rng.choice(TAGS))
    if kind == 7:
        return rng.choice([[], {}, [None], {"": None}, [[]], {"x": {}}])
    if kind == 8:
        return raws.add(nested(rng))
    if kind == 9:
        return raws.add(alias_bomb(rng))
    if kind == 10:
        # A raw control character in a plain scalar (the YAML reader refuses most).
        return raws.add("x" + rng.choice([*CONTROL[:3], "\x01", "\x9b", "\ufffe"]) + "y")
    if kind == 11 and donors:
        return rng.choice(donors)  # a value from elsewhere in the catalogue
    if kind == 12:
        return raws.add("&self [*self]")  # a list holding itself
    return _repeated(weird_string(rng), rng.choice([1, 2, 100, 5000]))


def _repeated(item: str, times: int) -> list[str]:
    """`item` `times` over, kept under 4 MB in all (the loader's limit; a bigger mutant
    only measures the writer)."""
    return [item] * max(1, min(times, (4 << 20) // max(len(item), 1)))


def nested(rng: random.Random) -> str:
    depth = rng.choice([10, 100, 500, 1000, 5000, 50000])
    if rng.random() < 0.5:
        return "[" * depth + "x" + "]" * depth
    return "{a: " * depth + "x" + "}" * depth


def alias_bomb(rng: random.Random) -> str:
    """Nine times nine ... items through aliases, in one flow sequence."""
    levels = rng.choice([3, 5, 7, 9])
    parts = ["&b0 [a, a, a, a, a, a, a, a, a]"]
    parts += [f"&b{n} [{', '.join([f'*b{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


# --------------------------------------------------------------------------- trees

Path = tuple[Any, ...]


def paths_of(node: Any, limit: int = 20000) -> list[Path]:
    """Every place in a parsed document (mapping keys and list indices), root first."""
    found: list[Path] = [()]
    stack: list[tuple[Path, Any]] = [((), node)]
    while stack and len(found) < limit:
        where, value = stack.pop()
        items = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value)
            if isinstance(value, list)
            else []
        )
        for key, child in items:
            found.append((*where, key))
            stack.append(((*where, key), child))
    return found


def get(node: Any, where: Path) -> Any:
    for part in where:
        node = node[part]
    return node


def put(root: Any, where: Path, value: Any) -> Any:
    """root with the node at `where` replaced (the root itself when `where` is empty)."""
    if not where:
        return value
    get(root, where[:-1])[where[-1]] = value
    return root


def scalars_of(node: Any, out: list[Any], limit: int = 2000) -> None:
    """Leaf values of a document, to splice into others."""
    for where in paths_of(node, limit):
        value = get(node, where)
        if not isinstance(value, dict | list):
            out.append(value)


def flow(value: Any) -> str:
    """`value` as one line of YAML flow style."""
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"), allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value)) if _jsonable(value) else value


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def mutate_tree(root: Any, rng: random.Random, raws: Raws, donors: list[Any]) -> tuple[Any, str]:
    """One structure-aware change at a random place of a parsed YAML document."""
    places = paths_of(root)
    where = rng.choice(places[1:] or places)
    node = get(root, where)
    op = rng.randrange(12)
    if op <= 3:
        value = weird_value(rng, raws, donors)
        return put(root, where, value), f"replace {where} with {value!r:.60}"
    if op == 4 and where:
        parent = get(root, where[:-1])
        del parent[where[-1]]
        return root, f"delete {where}"
    if op == 5 and where and isinstance(get(root, where[:-1]), dict):
        parent = get(root, where[:-1])
        key = rng.choice(
            [
                weird_string(rng),
                raws.add(rng.choice(LOOKALIKES)),
                raws.add(rng.choice(["[a, b]", "{a: 1}", "? x", "*nothing", "<<"])),
                rng.choice([0, 1, None, True, 3.5]),
            ]
        )
        parent[key] = parent.pop(where[-1])
        return root, f"rename key {where} to {key!r:.60}"
    if op == 6:
        depth = rng.choice([10, 100, 1000, 5000])
        opening, closing = (
            ("[" * depth, "]" * depth)
            if rng.random() < 0.5
            else (
                "{k: " * depth,
                "}" * depth,
            )
        )
        return put(root, where, raws.add(opening + flow(node) + closing)), f"nest {where} {depth}"
    if op == 7:
        other = rng.choice(places)
        if other[: len(where)] == where or where[: len(other)] == other:
            return put(root, where, raws.add(f"&fz [{flow(node)}, *fz]")), f"self-alias {where}"
        anchored = flow(get(root, other))
        put(root, other, raws.add(f"&fz {anchored}"))
        if isinstance(node, dict) and rng.random() < 0.5:
            node[raws.add("<<")] = raws.add("*fz")
            return root, f"merge anchor {other} into {where}"
        return put(root, where, raws.add("*fz")), f"alias {where} to {other}"
    if op == 8 and isinstance(node, list) and node:
        times = rng.choice([2, 10, 100, 1000])
        return put(root, where, [_copy(item) for item in node] * times), f"list {where} x{times}"
    if op == 9:
        other = rng.choice(places)
        a, b = _copy(node), _copy(get(root, other))
        try:
            root = put(root, where, b)
            root = put(root, other, a)
        except (KeyError, IndexError, TypeError):
            pass  # one place was inside the other
        return root, f"swap {where} and {other}"
    if op == 10 and isinstance(node, dict):
        node[weird_string(rng)] = weird_value(rng, raws, donors)
        return root, f"add a key to {where}"
    if op == 11 and isinstance(node, list):
        node.insert(rng.randint(0, len(node)), weird_value(rng, raws, donors))
        return root, f"insert into {where}"
    return put(root, where, weird_value(rng, raws, donors)), f"replace {where}"


def duplicate_a_key(text: str, rng: random.Random) -> str:
    """A mapping line given twice (PyYAML would keep the last)."""
    lines = text.splitlines(keepends=True)
    keyed = [n for n, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")]
    if not keyed:
        return text
    n = rng.choice(keyed)
    lines.insert(n + 1, lines[n] if lines[n].endswith("\n") else lines[n] + "\n")
    return "".join(lines)


def mutate_yaml(original: str, rng: random.Random, donors: list[Any]) -> tuple[bytes, str]:
    """A mutant of a YAML file: changes to its parsed tree, then perhaps to its bytes."""
    did: list[str] = []
    if rng.random() < 0.75:
        root = yaml.safe_load(original)
        raws = Raws()
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            root, what = mutate_tree(root, rng, raws, donors)
            did.append(what)
        try:
            text = yaml.safe_dump(
                root, sort_keys=False, allow_unicode=True, width=rng.choice([80, 10**9])
            )
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            text = original  # the writer's own limit (a recursive list): change the bytes
            did.append(f"(not written: {type(exc).__name__})")
        text = raws.fill(text)
        if rng.random() < 0.15:
            text = duplicate_a_key(text, rng)
            did.append("duplicate a key line")
        data = text.encode("utf-8", "surrogatepass")
        if rng.random() < 0.2:
            data, what = mutate_bytes(data, rng)
            did.append(what)
        return data, "; ".join(did)
    data = original.encode()
    for _ in range(rng.choice([1, 1, 2, 3])):
        data, what = mutate_bytes(data, rng)
        did.append(what)
    return data, "; ".join(did)


# --------------------------------------------------------------------------- bytes


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One byte-level change: flips, control characters, truncation, cut and repeat."""
    size = len(data)
    at = rng.randint(0, size)
    op = rng.randrange(10)
    if op == 0 and size:
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(size)] ^= 1 << rng.randrange(8)
        return bytes(buf), "flip bits"
    if op == 1:
        char = rng.choice([*CONTROL, "\x01", "\x1f", "\x9b"]).encode()
        return data[:at] + char + data[at:], f"insert {char!r} at {at}"
    if op == 2:
        return data[:at], f"truncate at {at}"
    if op == 3:
        end = min(size, at + rng.randint(1, 200))
        return data[:at] + data[end:], f"cut {at}..{end}"
    if op == 4:
        end = min(size, at + rng.randint(1, 200))
        times = rng.choice([2, 10, 100])
        return data[:end] + data[at:end] * times + data[end:], f"repeat {at}..{end} x{times}"
    if op == 5:
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        return data[:at] + junk + data[at:], f"insert random bytes at {at}"
    if op == 6:
        return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b""]) + data.replace(
            b"\n", b"\r\n"
        ), "BOM, CRLF"
    if op == 7:
        return data[:at] + b"\xff\xc0\x80" + data[at:], f"invalid UTF-8 at {at}"
    if op == 8:
        line_start = data.rfind(b"\n", 0, at) + 1
        return data[:line_start] + rng.choice([b"\t", b" ", b"   "]) + data[line_start:], "indent"
    return data[:at] + rng.choice([b"\n---\n", b"\n...\n", b"#", b"\\", b"'", b'"']) + data[
        at:
    ], "marker"


# --------------------------------------------------------------------------- listings


SHELL_WORDS = ["$V", "${V}", "${V:-x}", "${#V}", "$(mktemp -u XXXXXX)", "`id`", "'open", '"open']
SHELL_WORDS += ["\\", ";", "&&", "||", "|", ">", ">>", "2>&1", "<<EOF", "&", "(", ")", "{", "}"]
SHELL_WORDS += ["*", "~", "--", "-n", "-6", "netns", "dev", "lo", "''", '""', "$((1+1))", "!"]


def _shell_word(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice(SHELL_WORDS)
    if kind == 1:
        return rng.choice(LOOKALIKES + ADDRESSES)
    if kind == 2:
        return huge_int(rng)
    return weird_string(rng)


def _construct(rng: random.Random) -> str:
    """A block of shell that stresses the importer's interpretation: expansion, loops,
    calls, nesting, long lines."""
    kind = rng.randrange(12)
    if kind == 0:  # a variable doubled k times
        k = rng.choice([4, 10, 16, 24, 40])
        return "v=ab\n" + 'v="$v$v"\n' * k + "ip link add $v type dummy\n"
    if kind == 1:  # nested loops over many words
        depth, words = rng.choice([1, 2, 3, 5]), rng.choice([2, 10, 100, 1000])
        items = " ".join(f"w{n}" for n in range(words))
        head = "".join(f"for i{d} in {items}; do\n" for d in range(depth))
        return head + "ip netns add n$i0\n" + "done\n" * depth
    if kind == 2:  # calls doubling at each level
        depth = rng.choice([5, 15, 20, 30])
        lines = ["f0() {\n  ip netns add x\n}\n"]
        lines += [f"f{n}() {{\n  f{n - 1}\n  f{n - 1}\n}}\n" for n in range(1, depth)]
        return "".join(lines) + f"f{depth - 1}\n"
    if kind == 3:  # recursion
        return rng.choice(["f() {\n  f\n}\nf\n", "g() {\n  h\n}\nh() {\n  g\n}\ng\n"])
    if kind == 4:  # nested ifs
        depth = rng.choice([10, 100, 300, 1000])
        return "if true; then\n" * depth + "ip netns add x\n" + "fi\n" * depth
    if kind == 5:  # nested case, groups, subshells
        depth = rng.choice([10, 100, 1000])
        return rng.choice(
            [
                "case x in\nx)\n" * depth + "ip netns add y\n" + ";;\nesac\n" * depth,
                "{\n" * depth + "ip netns add y\n" + "}\n" * depth,
                "(\n" * depth + "ip netns add y\n" + ")\n" * depth,
            ]
        )
    if kind == 6:  # nested expansions
        depth = rng.choice([10, 100, 1000, 10000])
        return rng.choice(
            [
                "x=" + "$(" * depth + "echo a" + ")" * depth + "\n",
                "x=" + "${x:-" * depth + "a" + "}" * depth + "\n",
                'x="' + "$(echo " * depth + '"\n',
            ]
        )
    if kind == 7:  # a long line
        size = rng.choice([1000, 100_000, 1_000_000])
        return rng.choice(["ip link add ", "echo ", "# ", "ip netns add "]) + "a" * size + "\n"
    if kind == 8:  # many lines
        count = rng.choice([1000, 10000, 50000])
        return "".join(f"ip netns add n{n}\n" for n in range(count))
    if kind == 9:  # continuation chains
        return "ip \\\n" * rng.choice([10, 1000, 10000]) + "netns add z\n"
    if kind == 10:  # loops that do not end
        return rng.choice(
            [
                "while true; do\n  ip link set lo up\ndone\n",
                "until false; do ip netns add q; done\n",
                "for ((i=0; i<1000000000; i++)); do ip netns add n$i; done\n",
            ]
        )
    return rng.choice(["cat <<EOF\nip netns add h\n", "x=$(\n", "'\n", "if true; then\n", "do\n"])


def mutate_listing(original: str, rng: random.Random, donors: list[str]) -> tuple[bytes, str]:
    """A mutant of a shell listing: lines, words, inserted constructs, then bytes."""
    lines = original.splitlines(keepends=True) or ["\n"]
    did: list[str] = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        n = rng.randrange(len(lines))
        op = rng.randrange(9)
        if op == 0 and len(lines) > 1:
            del lines[n : n + rng.randint(1, 5)]
            did.append(f"delete from line {n + 1}")
        elif op == 1:
            times = rng.choice([2, 10, 1000])
            lines[n:n] = [lines[n]] * times
            did.append(f"line {n + 1} x{times}")
        elif op == 2:
            m = rng.randrange(len(lines))
            lines[n], lines[m] = lines[m], lines[n]
            did.append(f"swap lines {n + 1} and {m + 1}")
        elif op == 3 and donors:
            lines.insert(n, rng.choice(rng.choice(donors).splitlines(keepends=True) or ["\n"]))
            did.append(f"line from another listing at {n + 1}")
        elif op in (4, 5, 6):
            words = lines[n].rstrip("\n").split(" ")
            w = rng.randrange(len(words))
            words[w] = _shell_word(rng)
            lines[n] = " ".join(words) + "\n"
            did.append(f"word {w} of line {n + 1} -> {words[w]!r:.40}")
        else:
            lines.insert(n, _construct(rng))
            did.append(f"construct at line {n + 1}: {lines[n][:40]!r}")
    data = "".join(lines).encode("utf-8", "surrogatepass")
    if rng.random() < 0.3:
        data, what = mutate_bytes(data, rng)
        did.append(what)
    return data, "; ".join(did)


# --------------------------------------------------------------------------- JSON


def weird_json(rng: random.Random, raws: Raws, donors: list[Any]) -> Any:
    """A JSON value of another type or an edge of one."""
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice([None, True, False, 0, -1, 2**31, 2**64, 1.5, 1e308, -1e-308])
    if kind in (1, 2):
        return weird_string(rng)
    if kind == 3:
        return raws.add(huge_int(rng))
    if kind == 4:
        return raws.add(rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-0"]))
    if kind == 5:
        return rng.choice([[], {}, [None], {"": None}, [[]], {"x": {}}, "[]", "{}"])
    if kind == 6:
        depth = rng.choice([10, 100, 1000, 10000, 100000])
        return raws.add("[" * depth + "]" * depth)
    if kind == 7 and donors:
        return rng.choice(donors)
    if kind == 8:
        return rng.choice(["pass", "fail", "error", "skip", "refuted", "changed", "PASS"])
    return _repeated(weird_string(rng), rng.choice([1, 100]))


def break_results_shape(doc: dict[str, Any], rng: random.Random) -> str:
    """One of the shapes a results.json reader may assume: broken."""
    op = rng.randrange(6)
    if op == 0:
        doc["scenarios"] = rng.choice([[], "x", 1, [1, 2], None, [{"a": 1}]])
        return "scenarios not a mapping"
    if op == 1 and isinstance(doc.get("scenarios"), dict) and doc["scenarios"]:
        doc["scenarios"][rng.choice(list(doc["scenarios"]))] = rng.choice([[], "x", 1, None])
        return "a scenario not a mapping"
    if op == 2 and isinstance(doc.get("records"), list) and isinstance(doc["records"][0], dict):
        doc["records"][0]["scenario"] = rng.choice([[], {}, 1, None, True, 1.5])
        return "a record's scenario not a string"
    if op == 3:
        doc["records"] = rng.choice([{}, "x", None, [None], [[]], [1], []])
        return "records not a list of records"
    if op == 4:
        doc["run"] = rng.choice([[], "x", None, {}, {"started": 1}, {"kernels": {}}])
        return "run not a run"
    if isinstance(doc.get("records"), list):
        doc["records"] = doc["records"] * rng.choice([2, 10, 50])
        return "records repeated"
    return "nothing"


def mutate_json(original: str, rng: random.Random, donors: list[Any]) -> tuple[bytes, str]:
    """A mutant of a JSON file: type swaps at random paths, the shapes a reader assumes
    broken, then perhaps bytes."""
    did: list[str] = []
    if rng.random() < 0.8:
        root = json.loads(original)
        raws = Raws()
        for _ in range(rng.choice([1, 1, 2, 3])):
            if isinstance(root, dict) and rng.random() < 0.15:
                did.append(break_results_shape(root, rng))
                continue
            places = paths_of(root)
            where = rng.choice(places[1:] or places)
            op = rng.randrange(6)
            if op <= 2:
                value = weird_json(rng, raws, donors)
                root = put(root, where, value)
                did.append(f"replace {where} with {value!r:.60}")
            elif op == 3 and where:
                del get(root, where[:-1])[where[-1]]
                did.append(f"delete {where}")
            elif op == 4 and isinstance(get(root, where), dict):
                get(root, where)[weird_string(rng)] = weird_json(rng, raws, donors)
                did.append(f"add a key to {where}")
            elif op == 5 and where and isinstance(get(root, where[:-1]), dict):
                parent = get(root, where[:-1])
                key = weird_string(rng)
                parent[key] = parent.pop(where[-1])
                did.append(f"rename {where} to {key!r:.40}")
        text = raws.fill(json.dumps(root, ensure_ascii=rng.random() < 0.5, allow_nan=True))
        data = text.encode("utf-8", "surrogatepass")
        if rng.random() < 0.15:
            data, what = mutate_bytes(data, rng)
            did.append(what)
        return data, "; ".join(did)
    data = original.encode()
    for _ in range(rng.choice([1, 1, 2])):
        data, what = mutate_bytes(data, rng)
        did.append(what)
    return data, "; ".join(did)
