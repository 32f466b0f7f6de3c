"""Every relative link in README.md and docs/*.md resolves.

A link ``[text](path)`` or ``[text](path#anchor)`` must name a file of the
repository, and its anchor a heading of that file, as GitHub spells heading
anchors. Links to web pages (``https://...``) are not followed.
"""
import os.path as osp
import re
from glob import glob

import pytest

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^\s*(```|~~~)')


def markdown_files():
    """The README and every page under docs/."""
    return [osp.join(REPO, 'README.md')] + sorted(glob(osp.join(REPO, 'docs', '*.md')))


def prose_lines(path):
    """Lines of a markdown file outside fenced code blocks."""
    lines, in_code = [], False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if FENCE.match(line):
                in_code = not in_code
            elif not in_code:
                lines.append(line.rstrip('\n'))
    return lines


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces
    to hyphens."""
    text = re.sub(r'<[^>]+>', '', heading.strip().lower())
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path):
    """Anchors of the headings of a markdown file (repeated ones get -1, -2)."""
    seen = {}
    result = set()
    for line in prose_lines(path):
        m = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f'{base}-{n}')
    return result


def relative_links(path):
    """``(line number, target)`` of every link that is not a web address."""
    links = []
    for lineno, line in enumerate(prose_lines(path), 1):
        line = re.sub(r'`[^`]*`', '', line)  # inline code is not a link
        for m in LINK.finditer(line):
            target = m.group(1) or m.group(2)
            if re.match(r'^[a-z][a-z0-9+.-]*:', target):  # https:, mailto:, ...
                continue
            links.append((lineno, target))
    return links


def broken_links(path):
    """Messages for the links of ``path`` that do not resolve."""
    broken = []
    for lineno, target in relative_links(path):
        file_part, _, anchor = target.partition('#')
        dest = osp.normpath(osp.join(osp.dirname(path), file_part)) if file_part else path
        name = f'{osp.relpath(path, REPO)}: link {target!r}'
        if not osp.exists(dest):
            broken.append(f'{name}: no file {osp.relpath(dest, REPO)}')
        elif anchor and (not dest.endswith('.md') or anchor not in anchors(dest)):
            broken.append(f'{name}: no heading #{anchor} in {osp.relpath(dest, REPO)}')
    return broken


def test_slug_matches_github():
    assert slug('Does BA2M help?') == 'does-ba2m-help'
    assert slug('Which normalisation, which global-attention policy') == \
        'which-normalisation-which-global-attention-policy'
    assert slug('`--amp` on CPU') == '--amp-on-cpu'
    assert slug('BA2M in other backbones (paper Tables X and XII)') == \
        'ba2m-in-other-backbones-paper-tables-x-and-xii'


def test_checker_finds_broken_links(tmp_path):
    (tmp_path / 'a.md').write_text('# Title\n\n## Part two\n\n'
                                   '[ok](#part-two) [ok](b.md#b) [bad](#nope) [bad](c.md)\n'
                                   '```\n[not a link](missing.md)\n```\n'
                                   '[web](https://example.com/x.md) `[code](missing.md)`\n')
    (tmp_path / 'b.md').write_text('# B\n')
    msgs = broken_links(str(tmp_path / 'a.md'))
    assert len(msgs) == 2, msgs
    assert 'no heading #nope' in msgs[0] and 'no file' in msgs[1]


def test_readme_links_docs():
    """The README is the landing page: every page in docs/ is linked from it."""
    readme = osp.join(REPO, 'README.md')
    linked = {osp.normpath(osp.join(REPO, t.partition('#')[0])) for _, t in relative_links(readme)}
    unlinked = [
        osp.relpath(p, REPO) for p in glob(osp.join(REPO, 'docs', '*.md')) if p not in linked
    ]
    assert not unlinked, f'docs pages not linked from README.md: {unlinked}'


@pytest.mark.parametrize('path', markdown_files(), ids=lambda p: osp.relpath(p, REPO))
def test_relative_links_resolve(path):
    broken = broken_links(path)
    assert not broken, '\n'.join(broken)
