// Semantic photo search on top of the library: an index (SQLite + sqlite-vec), queries, duplicates.
export { openIndex, readMeta, storedModel, clearIndex, vectorWidth, type IndexDb, type ModelIdentity } from './db.js';
export { loadIndexModel, modelForIndex, type IndexModel } from './model.js';
export {
  indexFolders,
  indexingThreads,
  MODEL_BATCH,
  type IndexSummary,
  type IndexOptions,
  type IndexProgress,
} from './indexer.js';
export { importShards } from './import.js';
export { parseQuery, queryVector, type QueryTerm } from './query.js';
export {
  searchVector,
  photoById,
  photoVector,
  photoCount,
  APPROXIMATE_ABOVE,
  type SearchHit,
  type SearchOptions,
  type SearchFilters,
} from './search.js';
export { findDuplicates, type DuplicateReport } from './dupes.js';
export { scanPhotos } from './scan.js';
