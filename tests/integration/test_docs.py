"""The man pages (issue 8): wsbridge(1) documents every flag that
`wsbridge --help` lists, wsbridge.ini(5) every configuration key, and both
render without groff warnings.

Which lines of an INI file name a key: after leading blanks and at most
one comment character (';' or '#') and more blanks, an identifier
[a-z][a-z0-9_]* followed by blanks and '='. So "listen = ...", the
commented-out defaults ";workers = 1" and the indented route key list
";   exec = COMMAND ARGS   ..." all count, while prose comments ("; A ping
every ping_interval (0 = off)") and [section] headers do not. That rule is
applied to conf/wsbridge.ini and packaging/wsbridge.ini; the key tables in
src/config_keys.c ({ "name", T_...) are read too, so a key missing from both
the reference file and the man page is still caught.

A documented item is the tag line after a .TP request: its first word,
once groff escapes are removed, is the flag or the key.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, REPO

MAN1 = os.path.join(REPO, "man", "wsbridge.1")
MAN5 = os.path.join(REPO, "man", "wsbridge.ini.5")
INI_FILES = [os.path.join(REPO, "conf", "wsbridge.ini"),
             os.path.join(REPO, "packaging", "wsbridge.ini")]
KEY_LINE = re.compile(r"^\s*[;#]?\s*([a-z][a-z0-9_]*)\s*=")
HELP_FLAG = re.compile(r"^\s+(--?[a-zA-Z][a-zA-Z0-9-]*)")


def deroff(text):
    """groff source to plain words: fonts, escapes and quotes removed."""
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)
    text = re.sub(r"\\\((lq|rq|dq)", '"', text)
    text = re.sub(r"\\\((em|en)", "-", text)
    for esc, plain in (("\\-", "-"), ("\\e", "\\"), ("\\ ", " "),
                       ("\\&", ""), ("\\c", ""), ("\\(bu", "*")):
        text = text.replace(esc, plain)
    return text


def man_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def tags(path, sections=None):
    """First words of the .TP tags, optionally only in .SH sections whose
    title starts with one of sections."""
    found = set()
    lines = man_lines(path)
    current = ""
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            current = deroff(line[4:]).strip('"')
        if line.strip() != ".TP" or i + 1 >= len(lines):
            continue
        if sections and not current.startswith(sections):
            continue
        tag = deroff(lines[i + 1])
        if tag.startswith("."):
            tag = tag.split(None, 1)[1] if " " in tag else ""
        words = tag.replace('"', " ").split()
        if words:
            found.add(words[0])
    return found


def help_flags():
    out = subprocess.run([BIN, "--help"], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    flags = set()
    for line in out.splitlines():
        m = HELP_FLAG.match(line)
        if m:
            flags.add(m.group(1))
    assert len(flags) > 30, out
    return flags


def ini_keys(path):
    keys = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = KEY_LINE.match(line)
            if m:
                keys.add(m.group(1))
    return keys


def config_c_keys():
    with open(os.path.join(REPO, "src", "config_keys.c"), encoding="utf-8") as f:
        return set(re.findall(r'\{ "([a-z][a-z0-9_]*)", T_', f.read()))


def test_every_help_flag_is_in_wsbridge_1():
    documented = tags(MAN1, ("OPTIONS",))
    missing = sorted(help_flags() - documented)
    assert not missing, "flags missing from man/wsbridge.1: %s" % missing


def test_wsbridge_1_documents_no_flag_that_does_not_exist():
    extra = sorted(tags(MAN1, ("OPTIONS",)) - help_flags())
    assert not extra, "man/wsbridge.1 documents unknown flags: %s" % extra


@pytest.mark.parametrize("ini", INI_FILES, ids=os.path.basename)
def test_every_ini_key_is_in_wsbridge_ini_5(ini):
    keys = ini_keys(ini)
    assert {"listen", "exec"} <= keys, keys      # the rule still finds keys
    missing = sorted(keys - tags(MAN5, ("[",)))
    assert not missing, "keys of %s missing from man/wsbridge.ini.5: %s" % (
        os.path.relpath(ini, REPO), missing)


def test_every_config_c_key_is_documented():
    keys = config_c_keys()
    assert len(keys) > 30, keys
    missing = sorted(keys - tags(MAN5, ("[",)))
    assert not missing, "keys in src/config_keys.c missing from " \
        "man/wsbridge.ini.5: %s" % missing
    not_in_conf = sorted(keys - ini_keys(INI_FILES[0]))
    assert not not_in_conf, "keys in src/config_keys.c missing from " \
        "conf/wsbridge.ini: %s" % not_in_conf


def test_wsbridge_ini_5_documents_no_key_that_does_not_exist():
    extra = sorted(tags(MAN5, ("[",)) - config_c_keys())
    assert not extra, "man/wsbridge.ini.5 documents unknown keys: %s" % extra


@pytest.mark.parametrize("page", [MAN1, MAN5], ids=os.path.basename)
def test_man_page_renders_without_warnings(page):
    if shutil.which("groff") is None:
        pytest.skip("groff not installed (Debian groff-base)")
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0 and p.stderr == b"", p.stderr.decode()
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", page],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = re.sub(".\b", "", p.stdout.decode("utf-8", "replace"))
    assert "NAME" in text and "wsbridge" in text and "SEE ALSO" in text


@pytest.mark.parametrize("page", [MAN1, MAN5], ids=os.path.basename)
def test_man_page_version_is_the_binarys(page):
    version = subprocess.run([BIN, "--version"], stdout=subprocess.PIPE,
                             check=True).stdout.decode().strip()
    th = [line for line in man_lines(page) if line.startswith(".TH ")]
    assert len(th) == 1 and '"%s"' % version in th[0], (th, version)


def ini_examples():
    """The INI examples of wsbridge.ini(5): .EX blocks starting with '['."""
    blocks, cur = [], None
    for line in man_lines(MAN5):
        if line == ".EX":
            cur = []
        elif line == ".EE":
            if cur and cur[0].startswith("["):
                blocks.append("\n".join(cur) + "\n")
            cur = None
        elif cur is not None:
            cur.append(deroff(line))
    return blocks


def test_ini_examples_use_only_real_keys(tmp_path):
    """The examples name files and hosts that are not here, so --check
    fails on those; but no key, section or value syntax may be wrong."""
    blocks = ini_examples()
    assert len(blocks) >= 5
    for i, text in enumerate(blocks):
        path = tmp_path / ("example%d.ini" % i)
        path.write_text(text)
        p = subprocess.run([BIN, "-c", str(path), "--check"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode()
        bad = [l for l in out.splitlines()
               if re.search(r"unknown|invalid|expected|syntax|duplicate", l)]
        assert not bad, "example %d:\n%s\n%s" % (i, text, out)
