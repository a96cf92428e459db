import '@cds/core/icon/register.js';
import { angleIcon, ClarityIcons } from '@cds/core/icon';
import { createElement, Fragment, useLayoutEffect, useRef, useState, type KeyboardEvent, type MouseEvent, type ReactNode } from 'react';
import { useT } from '../i18n/core.ts';

ClarityIcons.addIcons(angleIcon);

/** A column of a DataTable: declarative, so lists describe what they show, not how. */
export interface Column<Row> {
  id: string;
  label: string;
  /** A string is shown on one line, truncated, with the whole text on hover. */
  cell: (row: Row) => ReactNode;
  /** Value to sort by; the column is sortable when given. */
  sortValue?: (row: Row) => string | number;
  /** Narrowest useful width in px (default 110): the grid hides low-priority columns rather than squeeze below it. */
  minWidth?: number;
  /**
   * 1 (default) is always shown; higher numbers are hidden first when the grid is narrow (Clarity's column
   * priorities) and their values move into the row's expandable detail.
   */
  priority?: number;
  /** Prose and progress wrap at word boundaries instead of truncating on one line. */
  wrap?: boolean;
  /** Stays visible at the right edge while the grid scrolls sideways (row actions). */
  sticky?: boolean;
  /**
   * Every text the column can show, when that is a closed set (states): the column is never narrower than the
   * longest of them needs in the grid's font, whatever the other columns take, so none is cut.
   */
  values?: readonly string[];
}

interface Props<Row> {
  columns: Column<Row>[];
  rows: Row[];
  rowKey: (row: Row) => string;
  label: string;
  empty: string;
  selected?: string | null;
  onSelect?: (row: Row) => void;
  /** Right-click or the context-menu key on a row. */
  onRowContextMenu?: (row: Row, at: { x: number; y: number }) => void;
  rowTestId?: (row: Row) => string;
  testId?: string;
}

const DEFAULT_MIN = 110;
const CARET = 36;

/** Width each `values` column needs for its longest text in a body cell's font and padding (nothing where there is no layout, as in jsdom). */
function measureValues(table: HTMLTableElement, columns: readonly { id: string; values?: readonly string[] }[]): Record<string, number> {
  const cell = table.querySelector<HTMLElement>('tbody tr:not(.vsp-grid-detail) > td.left:not(.vsp-wrap)');
  if (!cell) return {};
  const style = getComputedStyle(cell);
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap';
  probe.style.font = style.font;
  cell.appendChild(probe);
  const pad = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) + parseFloat(style.borderLeftWidth) + parseFloat(style.borderRightWidth);
  const out: Record<string, number> = {};
  for (const c of columns) {
    if (!c.values?.length) continue;
    let widest = 0;
    for (const v of c.values) {
      probe.textContent = v;
      widest = Math.max(widest, probe.getBoundingClientRect().width);
    }
    if (widest > 0) out[c.id] = Math.ceil(widest + (Number.isFinite(pad) ? pad : 0));
  }
  probe.remove();
  return out;
}

/** The columns that fit `width`: drop the highest priority number (rightmost first) until the minimum widths fit. */
export function fitColumns<C extends { priority?: number; minWidth?: number }>(columns: C[], width: number): { shown: C[]; hidden: C[] } {
  const shown = [...columns];
  const hidden: C[] = [];
  const need = () => shown.reduce((s, c) => s + (c.minWidth ?? DEFAULT_MIN), 0) + (hidden.length > 0 ? CARET : 0);
  while (width > 0 && need() > width) {
    let drop = -1;
    shown.forEach((c, i) => {
      const p = c.priority ?? 1;
      if (p > 1 && (drop < 0 || p >= (shown[drop]?.priority ?? 1))) drop = i;
    });
    if (drop < 0) break;
    hidden.unshift(...shown.splice(drop, 1));
  }
  return { shown, hidden: columns.filter((c) => hidden.includes(c)) };
}

/** One line, cut with an ellipsis, the whole text on hover: how Clarity's datagrid shows long values. */
export function CellText({ text, title, mono, testId }: { text: string; title?: string; mono?: boolean; testId?: string }) {
  return (
    <span className={mono ? 'vsp-cell-text vsp-id' : 'vsp-cell-text'} title={title ?? text} data-test={testId}>
      {text}
    </span>
  );
}

/** An identifier (task, instance, export ids): monospace, never broken mid-word. */
export const CellId = ({ id, testId }: { id: string; testId?: string }) => <CellText text={id} mono {...(testId ? { testId } : {})} />;

/** A list of ids on one line, each whole; the list is cut with an ellipsis and shown in full on hover. */
export const CellIds = ({ ids, none }: { ids: string[]; none: string }) => (ids.length ? <CellText text={ids.join(', ')} mono /> : <CellText text={none} />);

/** A vCenter object by name, its id on hover (old records without a name show the id). */
export const CellVm = ({ name, id }: { name: string | undefined; id: string }) => <CellText text={name ?? id} title={name ? `${name} (${id})` : id} />;

const caret = (open: boolean) => createElement('cds-icon', { shape: 'angle', direction: open ? 'down' : 'right', 'aria-hidden': 'true' });

/**
 * Clarity datagrid behaviour on a `table` (Clarity has no React datagrid): sortable columns, keyboard-usable rows,
 * one-line truncated cells with the full text on hover, column priorities (what does not fit moves into an
 * expandable row detail), sideways scrolling inside the grid with the actions column kept in view.
 */
export function DataTable<Row>(props: Props<Row>) {
  const t = useT();
  const [sort, setSort] = useState<{ id: string; dir: 1 | -1 } | null>(null);
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const [width, setWidth] = useState(0);
  const host = useRef<HTMLDivElement>(null);
  const [needed, setNeeded] = useState<Record<string, number>>({});
  const valuesKey = props.columns.map((c) => (c.values ? `${c.id}=${c.values.join('|')}` : '')).join(';');
  const hasRows = props.rows.length > 0;
  // Measured when the first rows arrive, when the texts change (another language) and once the web fonts are in.
  useLayoutEffect(() => {
    if (!hasRows) return;
    let live = true;
    const measure = () => {
      const table = host.current?.querySelector('table');
      if (!live || !table) return;
      const next = measureValues(table, props.columns);
      setNeeded((prev) => (JSON.stringify(prev) === JSON.stringify(next) ? prev : next));
    };
    measure();
    void document.fonts?.ready.then(measure);
    return () => {
      live = false;
    };
  }, [valuesKey, hasRows]);
  const columns = props.columns.map((c) => {
    const need = needed[c.id] ?? 0;
    return need > (c.minWidth ?? DEFAULT_MIN) ? { ...c, minWidth: need } : c;
  });
  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return;
    setWidth(el.clientWidth);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  // The table's own left and right borders take 2 px of the grid.
  const { shown, hidden } = fitColumns(columns, width - 2);
  const expandable = hidden.length > 0;
  const sortCol = props.columns.find((c) => c.id === sort?.id);
  const rows = sortCol?.sortValue
    ? [...props.rows].sort((a, b) => {
        const va = sortCol.sortValue!(a);
        const vb = sortCol.sortValue!(b);
        return (va < vb ? -1 : va > vb ? 1 : 0) * (sort?.dir ?? 1);
      })
    : props.rows;
  const interactive = props.onSelect !== undefined || props.onRowContextMenu !== undefined;
  const onKey = (e: KeyboardEvent<HTMLTableRowElement>, row: Row) => {
    if (e.target !== e.currentTarget) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      props.onSelect?.(row);
    } else if (e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10')) {
      e.preventDefault();
      const r = e.currentTarget.getBoundingClientRect();
      props.onRowContextMenu?.(row, { x: r.left + 24, y: r.bottom });
    }
  };
  const onContext = (e: MouseEvent<HTMLTableRowElement>, row: Row) => {
    if (!props.onRowContextMenu) return;
    e.preventDefault();
    props.onRowContextMenu(row, { x: e.clientX, y: e.clientY });
  };
  const toggle = (key: string) =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  const content = (c: Column<Row>, row: Row) => {
    const v = c.cell(row);
    return typeof v === 'string' && !c.wrap ? <CellText text={v} /> : v;
  };
  const minTotal = shown.reduce((s, c) => s + (c.minWidth ?? DEFAULT_MIN), 0) + (expandable ? CARET : 0);
  const span = shown.length + (expandable ? 1 : 0);
  return (
    <div className="vsp-grid" ref={host}>
      <table className="table table-compact vsp-table" aria-label={props.label} data-test={props.testId} style={{ minWidth: minTotal }}>
        <colgroup>
          {expandable && <col style={{ width: CARET }} />}
          {shown.map((c) => (
            <col key={c.id} style={{ width: c.minWidth ?? DEFAULT_MIN }} />
          ))}
        </colgroup>
        <thead>
          <tr>
            {expandable && <th className="vsp-grid-caret" aria-label={t('table.details')} />}
            {shown.map((c) => (
              <th
                key={c.id}
                className={`left${c.sticky ? ' vsp-sticky' : ''}`}
                title={c.label}
                aria-sort={sort?.id === c.id ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}
              >
                {c.sortValue ? (
                  <button
                    type="button"
                    className="vsp-sort"
                    onClick={() => setSort((s) => ({ id: c.id, dir: s?.id === c.id && s.dir === 1 ? -1 : 1 }))}
                  >
                    {c.label}
                  </button>
                ) : (
                  <span className="vsp-cell-text">{c.label}</span>
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td className="left vsp-wrap" colSpan={span}>
                {props.empty}
              </td>
            </tr>
          )}
          {rows.map((row) => {
            const key = props.rowKey(row);
            const isOpen = expandable && open.has(key);
            return (
              <Fragment key={key}>
                <tr
                  tabIndex={interactive ? 0 : undefined}
                  aria-selected={props.onSelect ? props.selected === key : undefined}
                  className={props.selected === key ? 'vsp-row-selected' : undefined}
                  data-test={props.rowTestId?.(row)}
                  onClick={() => props.onSelect?.(row)}
                  onKeyDown={(e) => onKey(e, row)}
                  onContextMenu={(e) => onContext(e, row)}
                >
                  {expandable && (
                    <td className="vsp-grid-caret">
                      <button
                        type="button"
                        className="btn btn-link btn-icon btn-sm"
                        aria-expanded={isOpen}
                        aria-label={t(isOpen ? 'table.collapse' : 'table.expand', { row: key })}
                        onClick={(e) => {
                          e.stopPropagation();
                          toggle(key);
                        }}
                      >
                        {caret(isOpen)}
                      </button>
                    </td>
                  )}
                  {shown.map((c) => (
                    <td key={c.id} className={`left${c.wrap ? ' vsp-wrap' : ''}${c.sticky ? ' vsp-sticky' : ''}`}>
                      {content(c, row)}
                    </td>
                  ))}
                </tr>
                {isOpen && (
                  <tr className="vsp-grid-detail">
                    <td colSpan={span} className="left vsp-wrap">
                      <dl className="vsp-kv">
                        {hidden.map((c) => (
                          <div key={c.id} className="vsp-kv-row">
                            <dt>{c.label}</dt>
                            <dd>{c.cell(row)}</dd>
                          </div>
                        ))}
                      </dl>
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
