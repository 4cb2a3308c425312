/** The selected job's task DAG (cytoscape + dagre layout), nodes coloured by device. */
import cytoscape from 'cytoscape';
import dagre from 'cytoscape-dagre';
import { el, swatch } from './dom.ts';
import type { DagView } from '../model/views.ts';

cytoscape.use(dagre);

const MAX_FIT_ZOOM = 1.25;

export class DagPanel {
  private readonly cy: cytoscape.Core;
  private shown = '';

  constructor(private readonly container: HTMLElement, private readonly legend: HTMLElement) {
    this.cy = cytoscape({
      container,
      minZoom: 0.05,
      maxZoom: 4,
      style: [
        {
          selector: 'node',
          style: {
            'background-color': 'data(color)', label: 'data(label)', 'font-size': 10, 'min-zoomed-font-size': 7, color: '#1d2330',
            'text-valign': 'bottom', 'text-margin-y': 2, width: 16, height: 16, 'border-width': 1, 'border-color': '#ffffff',
          },
        },
        { selector: 'node[kind = "stage"]', style: { shape: 'round-rectangle', width: 28, height: 18 } },
        { selector: 'edge', style: { width: 1.2, 'line-color': '#b8c0cc', 'target-arrow-color': '#b8c0cc', 'target-arrow-shape': 'triangle', 'arrow-scale': 0.7, 'curve-style': 'bezier' } },
        // An edge between two devices is a tensor on the network.
        { selector: 'edge[?cross]', style: { width: 2.2, 'line-color': '#1d2330', 'target-arrow-color': '#1d2330', 'line-style': 'dashed' } },
      ],
    });
  }

  /** Redraws only when the job or what it ran on changed. */
  update(view: DagView | null): void {
    const signature = view ? `${view.jobKey}|${view.nodes.map((n) => n.device).join(',')}|${view.edges.length}` : '';
    if (signature === this.shown) return;
    this.shown = signature;
    this.cy.elements().remove();
    if (view) {
      this.cy.add([
        ...view.nodes.map((n) => ({ group: 'nodes' as const, data: { id: n.id, label: n.label, color: n.color, device: n.device, kind: n.kind } })),
        ...view.edges.map((e) => ({ group: 'edges' as const, data: { id: e.id, source: e.source, target: e.target, cross: e.crossDevice } })),
      ]);
      // Deep networks read best along the panel's long side.
      const box = this.container.getBoundingClientRect();
      const rankDir = box.width >= box.height ? 'LR' : 'TB';
      this.cy.layout({ name: 'dagre', rankDir, nodeSep: 12, rankSep: 30, fit: true, padding: 16, animate: false } as cytoscape.LayoutOptions).run();
      this.capZoom();
    }
    const d = this.container.dataset;
    d['job'] = view?.jobKey ?? '';
    d['nodes'] = String(this.cy.nodes().length);
    d['edges'] = String(this.cy.edges().length);
    d['devices'] = String(view?.devices.length ?? 0);
    d['granularity'] = view?.granularity ?? '';
    this.legend.replaceChildren(...(view?.devices ?? []).map((x) => el('span', { class: 'item', 'data-device': x.id }, swatch(x.color), x.id)));
  }

  /** Keeps the drawing fitted when the container is resized. */
  resize(): void {
    this.cy.resize();
    this.cy.fit(undefined, 16);
    this.capZoom();
  }

  /** A small DAG is not blown up past its natural size. */
  private capZoom(): void {
    if (this.cy.zoom() <= MAX_FIT_ZOOM) return;
    this.cy.zoom(MAX_FIT_ZOOM);
    this.cy.center();
  }
}
