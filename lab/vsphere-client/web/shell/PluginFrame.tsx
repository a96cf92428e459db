import { useLayoutEffect, useRef } from 'react';
import { frameHub, type FrameContext } from './frameHub.ts';

export interface PluginFrameProps {
  src: string;
  title: string;
  context: FrameContext;
  testId: string;
  className?: string;
  height?: number;
}

/** A plugin view: an iframe on the proxied plugin origin, known to the frame hub before its page runs. */
export function PluginFrame({ src, title, context, testId, className, height }: PluginFrameProps) {
  const ref = useRef<HTMLIFrameElement>(null);
  useLayoutEffect(() => {
    const frame = ref.current;
    if (!frame) return;
    frameHub.register(frame, context);
    return () => frameHub.unregister(frame);
  }, [context]);
  return (
    <iframe
      ref={ref}
      src={src}
      title={title}
      data-test={testId}
      className={`vsc-plugin-frame${className ? ` ${className}` : ''}`}
      style={height !== undefined ? { height: `${height}px` } : undefined}
    />
  );
}
