// The PromQL test-script runner: parse scripts, run them against an engine, print the counts.

export { parseScript, parseExpect, goRegex } from './parse.js';
export type { Command, EvalCommand, LoadCommand, ClearCommand, Expectation, ExpectType, ExpectedSeries, ParseProblem } from './parse.js';
export { parseSeriesDesc, parseSequence, parseMetric, parseScalarLine, ScriptSyntaxError } from './series.js';
export type { SequenceValue, SeriesDesc } from './series.js';
export { almostEqual, compareResult, checkAnnotations } from './compare.js';
export { runTestFile } from './run.js';
export type { EngineSetup, EvalReport, EvalStatus, FileReport, Counts, RunOptions } from './run.js';
export { formatReport, sumCounts } from './report.js';
export { runConformanceDir } from './dir.js';
