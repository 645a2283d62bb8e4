// Two small hand-drawn SVG pictures: spend per day as bars, and a budget bar with 50/80/100 % marks.
import { h, shortDay, svg, usd } from "./format.js";

const WIDTH = 1000;
const HEIGHT = 240;
const PAD = { top: 12, right: 12, bottom: 28, left: 64 };

function niceCeiling(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((factor) => factor * magnitude >= value);
  return step * magnitude;
}

export function dailyChart(series) {
  const top = niceCeiling(Math.max(...series.map((point) => point.usd)));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / series.length;
  const total = series.reduce((sum, point) => sum + point.usd, 0);
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img",
    "aria-label": `Spend per day, last ${series.length} days: ${usd(total)} in all`,
  });
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotHeight * (1 - fraction);
    chart.append(
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, usd(top * fraction)),
    );
  }
  series.forEach((point, index) => {
    const height = top > 0 ? (point.usd / top) * plotHeight : 0;
    const x = PAD.left + index * slot + slot * 0.15;
    chart.append(svg("rect", {
      x, y: PAD.top + plotHeight - height, width: slot * 0.7, height: Math.max(height, point.usd > 0 ? 1 : 0),
      class: "bar",
    }, svg("title", {}, `${point.day}: ${usd(point.usd)}`)));
    if (index % 5 === series.length % 5 || index === series.length - 1) {
      chart.append(svg("text", {
        x: x + slot * 0.35, y: HEIGHT - 8, class: "axis", "text-anchor": "middle",
      }, shortDay(point.day)));
    }
  });
  return chart;
}

function level(percent) {
  if (percent === null) return "none";
  if (percent >= 100) return "over";
  if (percent >= 80) return "high";
  if (percent >= 50) return "mid";
  return "low";
}

// `period` is a budget view part: {effective, spent_usd, percent_used, ...}.
export function budgetBar(title, period) {
  const percent = period.percent_used;
  const filled = percent === null ? 0 : Math.min(percent, 100);
  const bar = svg("svg", {
    viewBox: "0 0 100 8", preserveAspectRatio: "none", class: `budget-bar ${level(percent)}`, "aria-hidden": "true",
  },
  svg("rect", { x: 0, y: 0, width: 100, height: 8, class: "track" }),
  svg("rect", { x: 0, y: 0, width: filled, height: 8, class: "fill" }),
  ...[50, 80].map((mark) => svg("line", { x1: mark, x2: mark, y1: 0, y2: 8, class: "mark" })));
  const budget = period.effective;
  const caption = budget === null
    ? `${usd(period.spent_usd)} spent, no budget`
    : budget === 0
      ? `${usd(period.spent_usd)} spent, budget is zero (all spend blocked)`
      : `${usd(period.spent_usd)} of ${usd(budget)} (${percent.toFixed(1)} %)`;
  return h("div", { class: "budget" },
    h("div", { class: "budget-head" }, h("strong", {}, title), h("span", { class: "muted" }, period.period)),
    bar,
    h("div", { class: "budget-scale muted", "aria-hidden": "true" },
      h("span", { class: "at0" }, "0"), h("span", { class: "at50" }, "50 %"), h("span", { class: "at80" }, "80 %"),
      h("span", { class: "at100" }, "100 %")),
    h("p", { class: "budget-caption" }, caption),
    h("meter", {
      class: "visually-hidden", min: 0, max: 100, low: 50, high: 80, optimum: 0, value: filled,
      "aria-label": `${title}: ${caption}`,
    }));
}
