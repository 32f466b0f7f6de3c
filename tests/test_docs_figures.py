"""The README and docs state each figure once, from a committed report or the code.

Each class of defect has its test: figures in the README outside the generated blocks, pages
that do not say which question they answer, pages too long, history in present-tense pages,
option tables that miss an argument, tools.md against the tools present, claims whose runs
predate a change to the code. The generated text itself is checked by
``tests/test_doc_tables.py`` (``update_doc_tables.py --check``)."""
import os.path as osp
import re
from glob import glob

import pytest

from ba2m_mm.compare import doc_claims, doc_options, doc_tables

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAGES = sorted(glob(osp.join(REPO, 'docs', '*.md')))
# Pages another engineer writes, or the one page meant for history.
NOT_OURS = ('gpu_verdict.md', )


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def without_generated(text):
    """The text outside generated blocks, values, code blocks, inline code and links."""
    text = doc_tables.BLOCK.sub('', text)
    text = doc_tables.VALUE.sub('', text)
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    text = re.sub(r'`[^`]*`', '', text)
    return re.sub(r'\]\([^)]*\)', ']', text)


# A measured figure: a decimal, a percentage, a ratio ("1.36x"), a mean ± std, a time.
FIGURE = re.compile(r'(?<![\w.])[-+]?\d+\.\d+(?!\.?\w)|\d+(\.\d+)?\s?%|\d+(\.\d+)?x\b|±|'
                    r'\b\d+(\.\d+)?\s?(s|min|h)\b')
# Per page, the figures in its prose that are not measurements (versions, hyper-parameters,
# goals, the interval's level). Any other figure must be generated, or read "about ..." with
# its source. model_zoo.md (the paper's and upstream's published figures, the parameter
# tables of get_flops.py --paper-table) and implementation_notes.md (the measurements behind
# each design choice) are not yet generated; changelog.md keeps past figures as they were.
NOT_MEASURED = {
    'README.md': ('3.11', '95%'),
    'docs/cifar10.md': ('0.1', '0.4', '0.3', '0.09', '±', '95%'),
    'docs/benchmarks.md': ('2.1', '1.15', '1.20', '1.01'),
    'docs/evidence.md': ('10%', ),
    'docs/contributing.md': (),
    'docs/tools.md': ('0.9', '±', '95%'),
    'docs/usage.md': (),
    'docs/demo.md': ('±', '95%', '10%', '0.5', '0.9', '2x'),
    'docs/install.md': ('3.3', '2.2', '2.14', '2.6', '3.11'),
    'docs/troubleshooting.md': ('2.6', ),
}
NOT_YET = ('docs/model_zoo.md', 'docs/implementation_notes.md', 'docs/changelog.md')


def hand_written_figures(text, allowed=()):
    """Figures of ``text`` outside the generated parts, not allowed and not "about"."""
    text = without_generated(text)
    return [
        m.group(0) for m in FIGURE.finditer(text)
        if m.group(0) not in allowed and 'about' not in text[max(0,
                                                                 m.start() - 12):m.start()]
    ]


def test_every_page_is_checked_or_listed():
    pages = {osp.relpath(p, REPO) for p in PAGES if osp.basename(p) not in NOT_OURS}
    assert pages | {'README.md'} == set(NOT_MEASURED) | set(NOT_YET)


@pytest.mark.parametrize('page', sorted(NOT_MEASURED))
def test_pages_state_no_figure_outside_the_generated_parts(page):
    found = hand_written_figures(read(osp.join(REPO, page)), NOT_MEASURED[page])
    assert not found, (f'{page} states figures by hand: {found}; generate them (a table or '
                       'value of ba2m_mm/compare/doc_tables.py, a claim of doc_claims.py), or '
                       'write "about" and the source')


def test_figure_check_catches_a_stale_verdict():
    stale = 'BA2M 48.97 ± 0.94% (paired -0.46, 95% [-2.28, +1.37]); a step 1.36x the plain one'
    assert len(hand_written_figures(stale, NOT_MEASURED['README.md'])) >= 7
    assert hand_written_figures('about 23 s (one run); 25 s a step') == ['25 s']
    assert not hand_written_figures('<!-- value: x -->1.36x<!-- /value -->')


def test_readme_is_short_with_the_answer_in_its_first_screen():
    lines = read(osp.join(REPO, 'README.md')).splitlines()
    assert len(lines) <= 150, f'README.md has {len(lines)} lines, at most 150'
    start = lines.index('<!-- table: README answer -->')
    assert start < 25, f'the answer starts at line {start + 1}, not in the first screen'
    for section in ('## Get started', '## Model zoo', '## Documentation'):
        assert section in lines


@pytest.mark.parametrize('name,limit', [('cifar10.md', 200), ('benchmarks.md', 200)])
def test_long_pages_are_at_most_200_lines(name, limit):
    n = len(read(osp.join(REPO, 'docs', name)).splitlines())
    assert n <= limit, f'docs/{name} has {n} lines, at most {limit}'


@pytest.mark.parametrize(
    'path', [p for p in PAGES if osp.basename(p) not in NOT_OURS], ids=osp.basename)
def test_each_page_says_up_front_which_question_it_answers(path):
    head = ' '.join(read(path).split('\n\n')[:3])
    title = read(path).splitlines()[0]
    assert title.endswith('?') or 'answers' in head, (
        f'{osp.basename(path)}: say in the title or the first paragraph which question it answers')


HISTORY = re.compile(
    r'\bissue \d+|no GPU was lent|since this change|\(before[:,]|\bbefore: |'
    r'in this session', re.I)


@pytest.mark.parametrize(
    'path', [osp.join(REPO, 'README.md')] +
    [p for p in PAGES if osp.basename(p) not in NOT_OURS + ('changelog.md', )],
    ids=osp.basename)
def test_present_pages_hold_no_history(path):
    text = read(path)
    text = doc_tables.BLOCK.sub('', text)
    # links into the changelog may name its sections
    text = re.sub(r'\(changelog\.md#[^)]*\)', '', text)
    found = [m.group(0) for m in HISTORY.finditer(text)]
    assert not found, f'{osp.basename(path)} tells history {found}: move it to docs/changelog.md'


def test_option_tables_name_every_argument_of_the_code(monkeypatch):
    """The tables are rendered from the signatures (``--check`` compares them); an argument
    without a meaning, e.g. gsa_groups, is an error."""
    names = [p.name for p in doc_options.ba2m_params()]
    assert 'gsa_groups' in names and set(names) == set(doc_options.BA2M_MEANINGS)
    meanings = dict(doc_options.BA2M_MEANINGS)
    del meanings['gsa_groups']
    monkeypatch.setattr(doc_options, 'BA2M_MEANINGS', meanings)
    with pytest.raises(ValueError, match=r"without a meaning \['gsa_groups'\]"):
        doc_options.render_options('BA2M')


def test_backbone_table_says_which_backbones_skip_thin_stages():
    table = doc_options.render_options('backbone')
    row = next(line for line in table.splitlines() if line.startswith('| `ba2m_stages`'))
    assert '`BA2MResNet`' in row and '`BA2MMobileNetV2`' in row and '32 channels' in row


def tool_files():
    files = glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True)
    files += glob(osp.join(REPO, 'tools', '**', '*.sh'), recursive=True)
    return sorted(osp.relpath(f, REPO) for f in files if not f.endswith('__init__.py'))


def test_tools_md_names_every_tool_and_only_tools_that_exist():
    text = read(osp.join(REPO, 'docs', 'tools.md'))
    named = set(re.findall(r'tools/[\w/]+\.(?:py|sh)', text))
    missing = [t for t in tool_files() if t not in named]
    gone = sorted(t for t in named if not osp.exists(osp.join(REPO, t)))
    assert not missing, f'docs/tools.md does not describe {missing}'
    assert not gone, f'docs/tools.md describes tools that do not exist: {gone}'


def test_claims_on_runs_older_than_a_change_say_so():
    """The digits demo's repeats ran before the twins' equal initial weights: the answer
    says so, generated from the runs' dates."""
    stamps = doc_claims.run_dates(doc_claims.load(REPO, doc_claims.DIGITS), ['ba2m', 'plain'])
    assert doc_claims.predates(stamps)
    answer = doc_tables.render_answer(REPO)
    digits = [line for line in answer.splitlines() if line.startswith('| digits demo')]
    assert digits and all('ran before' in line for line in digits)
    testbed = [line for line in answer.splitlines() if line.startswith('| CIFAR-10 testbed')]
    assert testbed and not any('ran before' in line for line in testbed)


def test_every_report_named_by_a_claim_exists_and_every_claim_reads():
    for e in list(doc_claims.ANSWER) + [t.control for t in doc_claims.TESTBEDS if t.control]:
        assert osp.isfile(osp.join(REPO, getattr(e, 'report', None) or e.source))
    for _, m in doc_claims.ZOO:
        if m is not None:
            doc_claims.measured(REPO, m)


def test_zoo_has_an_ours_cell_for_every_config_a_report_ran():
    """A model-zoo config (configs/, not the lab testbeds of configs/lab/, which the
    answer and evidence.md report) trained in a committed comparison report (its arm, at
    the config's own settings) is in the README's zoo with what was measured."""
    import json
    ran = set()
    for path in glob(osp.join(REPO, 'docs', 'results', '*.json')):
        report = json.load(open(path))
        if not isinstance(report.get('results'), list) or report.get('evaluate') != 'test':
            continue
        ran |= {
            osp.splitext(osp.basename(a['config']))[0]
            for a in report['arms'] if '/lab/' not in a['config']
        }
    measured = {name for name, m in doc_claims.ZOO if m is not None}
    assert ran - measured == set(), f'configs run on test with no "ours" cell: {ran - measured}'


def test_evidence_holds_every_run_behind_the_answer():
    """evidence.md lists the runs of every report a line of the README's answer reads (it
    once claimed to, and had none of the testbed's)."""
    text = read(osp.join(REPO, 'docs', 'evidence.md'))
    reports = {e.report for e in doc_claims.ANSWER if isinstance(e, doc_claims.Effect)}
    # the vs-random report holds the same runs as the verdict against plain
    reports.discard(doc_claims.T_RANDOM)
    missing = sorted(r for r in reports if f'<!-- table: {r} runs -->' not in text)
    assert not missing, f'docs/evidence.md has no runs table of {missing}'


def zoo_rows():
    """``(config name, cells)`` of the config rows of docs/model_zoo.md's tables."""
    for line in read(osp.join(REPO, 'docs', 'model_zoo.md')).splitlines():
        m = re.match(r'^\| `(\w+)\.py`', line)
        if m:
            yield m.group(1), [c.strip() for c in line.strip('|').split('|')]


def test_model_zoo_sizes_and_paper_figures_are_the_metafiles():
    """The Params / FLOPs cells of docs/model_zoo.md are the metafile's (measured by
    update_metafile.py), and its paper cells hold the metafile's Paper Results."""
    from ba2m_mm.analysis.model_index import load_metafile
    entries = {e['Name']: e for e in load_metafile()['Models']}
    wrong = []
    for name, cells in zoo_rows():
        md = entries[name]['Metadata']
        size = re.match(r'(\d+\.\d+) M / (\d+\.\d+) G', cells[3])
        if 'Parameters' in md and not size:
            wrong.append(f'{name}: size {cells[3]!r}, the metafile has it')
        elif size and (size[1], size[2]) != (f'{md["Parameters"] / 1e6:.2f}',
                                             f'{md["FLOPs"] / 1e9:.2f}'):
            wrong.append(f'{name}: {size[0]} against the metafile\'s '
                         f'{md["Parameters"] / 1e6:.2f} M / {md["FLOPs"] / 1e9:.2f} G')
        paper = entries[name].get('Paper Results') or {}
        for key, metrics in paper.items():
            if key in ('Source', 'Note'):
                continue
            for metric, v in metrics.items():
                if metric in ('Params (M)', 'FLOPs (G)', 'Top-5 Error (%)'):
                    continue
                if f'{v:.2f}'.rstrip('0').rstrip('.') not in cells[2].replace('.00', ''):
                    wrong.append(f'{name}: the paper\'s {key} {metric} {v} is not in {cells[2]!r}')
    assert not wrong, '\n'.join(wrong)
