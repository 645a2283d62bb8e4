// Building DOM safely (text only, never HTML from data) and formatting money and times for people.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

// Whole dollars read best with cents; sub-dollar amounts need more digits, sub-cent token costs more still.
export function usd(value) {
  if (value === null || value === undefined) return "—";
  const amount = Number(value);
  const size = Math.abs(amount);
  let digits = 2;
  if (size > 0 && size < 0.01) digits = 6;
  else if (size > 0 && size < 1) digits = 4;
  return "$" + amount.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function usdCell(value) {
  return h("span", { class: "num", title: value === null || value === undefined ? null : `${value} USD` }, usd(value));
}

export function count(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} %`;
}

const LOCAL_TIME = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const LOCAL_TIME_WITH_YEAR = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

// A time in the viewer's own zone (the year only when it is not this year), the UTC original on hover.
export function time(iso) {
  if (!iso) return h("span", {}, "—");
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return h("span", {}, iso);
  const format = moment.getFullYear() === new Date().getFullYear() ? LOCAL_TIME : LOCAL_TIME_WITH_YEAR;
  return h("time", { datetime: iso, title: `${moment.toISOString()} (UTC)` }, format.format(moment));
}

export function shortDay(day) {
  const [, month, date] = day.split("-");
  return `${Number(month)}/${Number(date)}`;
}

// `datetime-local` input value (viewer's zone) → ISO UTC for the API; "" stays "".
export function localInputToIso(value) {
  if (!value) return "";
  const moment = new Date(value);
  return Number.isNaN(moment.getTime()) ? "" : moment.toISOString();
}

export function message(kind, text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
