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
