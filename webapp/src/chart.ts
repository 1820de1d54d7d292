// Draws the assessment's Vega-Lite timeline. Content-Security-Policy forbids eval and inline
// styles, so expressions go through vega-interpreter and vega-embed adds no style element.
import embed from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';

/** Renders `spec` into `target`; on failure writes why into the target instead. */
export async function drawChart(target: HTMLElement, spec: object): Promise<void> {
  try {
    await embed(target, spec as never, {
      actions: false,
      renderer: 'svg',
      ast: true,
      expr: expressionInterpreter,
      defaultStyle: false,
      tooltip: { disableDefaultStyle: true },
    });
  } catch (error) {
    target.textContent = `The timeline chart could not be drawn: ${error instanceof Error ? error.message : String(error)}`;
  }
}
