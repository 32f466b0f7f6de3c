"""Documented comparison tables equal what their saved JSON reports render."""
import json
import os.path as osp

import pytest

from ba2m_mm.compare.doc_tables import render_table, update_tables

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_committed_tables_match_their_reports():
    import glob
    files = [osp.join(REPO, 'README.md')] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))
    stale = {osp.relpath(f, REPO): update_tables(f, REPO, check=True) for f in files}
    assert not any(stale.values()), (
        f'tables out of date: {stale}; run python tools/analysis/update_doc_tables.py')


def test_update_rewrites_a_stale_block(tmp_path):
    report = dict(
        metric='m',
        metrics=['m'],
        group_name='group',
        summary=[],
        differences=[],
        results=[
            dict(
                label='A',
                seed=0,
                group=None,
                metrics={'m': 0.5},
                train_time=1.0,
                eval_time=2.0,
                iters=3)
        ])
    (tmp_path / 'r.json').write_text(json.dumps(report))
    md = tmp_path / 'doc.md'
    md.write_text('text\n<!-- table: r.json runs -->\nold\n<!-- /table -->\nmore\n')
    assert update_tables(str(md), str(tmp_path), check=True) == ['r.json runs']
    assert 'old' in md.read_text()  # check only
    assert update_tables(str(md), str(tmp_path)) == ['r.json runs']
    assert md.read_text() == ('text\n<!-- table: r.json runs -->\n' +
                              render_table(str(tmp_path / 'r.json'), 'runs') +
                              '\n<!-- /table -->\nmore\n')
    assert '| A | 0 | 0.500 | 1 | 2 | 3 |' in md.read_text()
    assert update_tables(str(md), str(tmp_path), check=True) == []
    with pytest.raises(
            ValueError, match="kind must be summary, differences, runs or step_ratios, got 'x'"):
        render_table(str(tmp_path / 'r.json'), 'x')


def test_values_and_claim_blocks_are_rewritten(tmp_path, monkeypatch):
    from ba2m_mm.compare import doc_tables
    monkeypatch.setitem(doc_tables.VALUES, 'answer_of_x', lambda root: '42')
    md = tmp_path / 'doc.md'
    md.write_text('x is <!-- value: answer_of_x -->41<!-- /value -->.\n')
    assert update_tables(str(md), str(tmp_path), check=True) == ['value answer_of_x']
    update_tables(str(md), str(tmp_path))
    assert md.read_text() == 'x is <!-- value: answer_of_x -->42<!-- /value -->.\n'
    md.write_text('<!-- value: nothing -->1<!-- /value -->\n')
    with pytest.raises(KeyError, match="value 'nothing'"):
        update_tables(str(md), str(tmp_path), check=True)


def test_answer_reads_a_new_claim_from_its_report(tmp_path, monkeypatch):
    """Adding a line to the answer is adding an entry: a positive control that shows."""
    from ba2m_mm.compare import doc_claims, doc_tables
    runs = [
        dict(arm=arm, seed=s, group=None, metrics={'m': v + s / 10})
        for arm, v in (('plain', 0.5), ('ba2m', 0.5), ('focal', 0.6)) for s in range(3)
    ]
    runs[3]['metrics']['m'] += 0.01  # ba2m, seed 0
    report = dict(
        header='h',
        metric='m',
        metrics=['m'],
        evaluate='val',
        arms=[dict(name=a, label=a.upper()) for a in ('plain', 'ba2m', 'focal')],
        results=runs)
    (tmp_path / 'r.json').write_text(json.dumps(report))
    monkeypatch.setattr(doc_claims, 'ANSWER', (
        doc_claims.Effect('toy', 'r.json', 'ba2m', 'plain', scale=100),
        doc_claims.Effect('toy', 'r.json', 'focal', 'plain', scale=100, control=True),
    ))
    answer = doc_tables.render_answer(str(tmp_path))
    assert '| toy |' in answer and 'BA2M - PLAIN' in answer
    assert 'FOCAL - PLAIN (positive control)' in answer
    assert '+10.00 [+10.00, +10.00], 3/3 seeds higher | the control shows' in answer
    assert '**no measurable gain** in 1 comparisons (1 intervals include 0' in answer
