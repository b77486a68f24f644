// The one-line errors the chart CLI shows (what went wrong and what to do).
export class ChartError extends Error {}
