// A time-series chart of the last minutes, drawn by uPlot on a canvas. The chart is a
// picture of numbers the page also shows as text, so it is hidden from screen readers and
// captioned instead.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  stroke: string;
  dash?: number[];
}

export function TimeChart(props: { title: string; series: ChartSeries[]; data: [number[], ...number[][]]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { title, series, data, height = 180 } = props;

  useEffect(() => {
    const el = box.current!;
    const width = Math.max(240, el.clientWidth);
    const u = new uPlot(
      {
        width,
        height,
        legend: { show: true, live: false },
        cursor: { show: false },
        // At least the last minute on the time axis, so that a young history does not zoom in on seconds.
        scales: {
          x: { time: true, range: (_u, min, max) => [Math.min(min, max - 60), max] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        axes: [{ stroke: "#334155" }, { stroke: "#334155", size: 56 }],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, dash: s.dash, points: { show: false } }))],
      },
      data,
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [series.map((s) => s.label).join("|"), height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure className="chart">
      <div ref={box} aria-hidden="true" />
      <figcaption>{title}</figcaption>
    </figure>
  );
}
