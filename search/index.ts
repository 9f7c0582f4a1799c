/**
 * The layer-wise mask search (SPEC §1.3): candidates compiled on the model's grid, calibration inputs along the
 * sampler's path, every (layer, candidate) measured with prefix caching, a plan per threshold, the report and
 * the error heatmap. `tessera search` (cli/search.ts) is this with files and progress around it.
 */
export {
  type CalibrationInput,
  type CalibrationRequest,
  type CalibrationSteps,
  calibrationCost,
  calibrationSteps,
  collectCalibration,
} from './calibration.js';
export {
  CandidateError,
  type CandidateSpec,
  compileCandidates,
  defaultCandidates,
  parseCandidates,
  type SearchCandidate,
} from './candidates.js';
export { blockFlops, type PlanPrediction, predictPlan } from './cost.js';
export { DeviceDistance, stageInput, suffixEpsilon } from './forward.js';
export { errorHeatmapScene, type HeatmapInput, searchHeatmaps, THRESHOLD_COLORS } from './heatmap.js';
export {
  chooseCandidate,
  type LayerMeasurement,
  SEARCH_MODES,
  type SearchMode,
  type SearchOptions,
  type SearchProgress,
  type SearchResult,
  type SearchStats,
  searchLayers,
  type ThresholdDecision,
} from './measure.js';
export {
  type CalibrationRecord,
  planFileName,
  SEARCH_METRIC,
  type SearchedPlan,
  type SearchRecord,
  searchedPlans,
} from './plans.js';
export { formatSearchReport, makeSearchReport, type SearchReport } from './report.js';
