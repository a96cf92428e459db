import { useId, type ReactNode } from 'react';

interface Props {
  title: string;
  /** One line beside the title saying what is inside, so a collapsed panel still shows its values. */
  description?: ReactNode;
  open: boolean;
  onToggle: (open: boolean) => void;
  testId?: string;
  children: ReactNode;
}

/**
 * One Clarity accordion panel (the markup of clr-accordion, styled by @clr/ui), like the vSphere Client's collapsible
 * "Advanced" sections. The content is rendered only while open.
 */
export function AccordionPanel({ title, description, open, onToggle, testId, children }: Props) {
  const id = useId();
  return (
    <div className="clr-accordion vsp-accordion" data-test={testId}>
      <div className="clr-accordion-panel">
        <div role="group" className={`clr-accordion-panel-inactive${open ? ' clr-accordion-panel-open' : ''}`}>
          <div className={`clr-accordion-header${description !== undefined ? ' clr-accordion-header-has-description' : ''}`}>
            <button
              type="button"
              className="clr-accordion-header-button"
              id={`${id}-header`}
              aria-expanded={open}
              aria-controls={`${id}-region`}
              onClick={() => onToggle(!open)}
            >
              <span className="clr-accordion-status">
                {/* A CSS chevron: the cds-icon element would bring the icon registry into the modal's first load. */}
                <span className={`vsp-accordion-caret${open ? ' vsp-accordion-caret-open' : ''}`} aria-hidden="true" />
              </span>
              <span className="clr-accordion-title">{title}</span>
              {description !== undefined && <span className="clr-accordion-description">{description}</span>}
            </button>
          </div>
          <div className="clr-accordion-content-region" role="region" id={`${id}-region`} aria-labelledby={`${id}-header`}>
            {open && (
              <div className="clr-accordion-content">
                <div className="clr-accordion-inner-content">{children}</div>
              </div>
            )}
          </div>
        </div>
      </div>
    </div>
  );
}
