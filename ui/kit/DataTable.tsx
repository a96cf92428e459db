import { useState, type KeyboardEvent, type MouseEvent, type ReactNode } from 'react';

/** A column of a DataTable: declarative, so lists describe what they show, not how. */
export interface Column<Row> {
  id: string;
  label: string;
  cell: (row: Row) => ReactNode;
  /** Value to sort by; the column is sortable when given. */
  sortValue?: (row: Row) => string | number;
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

/** Clarity `table` with sortable columns and keyboard-usable rows (Clarity has no React datagrid). */
export function DataTable<Row>(props: Props<Row>) {
  const [sort, setSort] = useState<{ id: string; dir: 1 | -1 } | null>(null);
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
  return (
    <table className="table table-compact vsp-table" aria-label={props.label} data-test={props.testId}>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th key={c.id} className="left" aria-sort={sort?.id === c.id ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}>
              {c.sortValue ? (
                <button
                  type="button"
                  className="vsp-sort"
                  onClick={() => setSort((s) => ({ id: c.id, dir: s?.id === c.id && s.dir === 1 ? -1 : 1 }))}
                >
                  {c.label}
                </button>
              ) : (
                c.label
              )}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td className="left" colSpan={props.columns.length}>
              {props.empty}
            </td>
          </tr>
        )}
        {rows.map((row) => {
          const key = props.rowKey(row);
          return (
            <tr
              key={key}
              tabIndex={interactive ? 0 : undefined}
              aria-selected={props.onSelect ? props.selected === key : undefined}
              className={props.selected === key ? 'vsp-row-selected' : undefined}
              data-test={props.rowTestId?.(row)}
              onClick={() => props.onSelect?.(row)}
              onKeyDown={(e) => onKey(e, row)}
              onContextMenu={(e) => onContext(e, row)}
            >
              {props.columns.map((c) => (
                <td key={c.id} className="left">
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
