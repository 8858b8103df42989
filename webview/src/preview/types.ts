// The dataset preview's data (engine/train/dataset_preview.cpp through the addon and the
// server's rwkv/previewDataset) and the messages between the panel and the page.

/** [id, text of the token, trains (1/0), the document's own token (1) or padding / the next document's (0)] */
export type PreviewToken = [number, string, number, number];

export interface PreviewDocument {
  index: number;
  length: number;
  tokens: PreviewToken[];
  shownTokens: number;
  trainedTokens?: number;
  roundTrip?: boolean;
  text?: string;
}

export interface DatasetPreview {
  path: string;
  format: 'binidx' | 'jsonl';
  dataType: string;
  ctxLen: number;
  lossMask: string;
  documents: number;
  tokens: number;
  /** jsonl: false when only the first documents were tokenized (a byte budget) */
  tokensCounted?: boolean;
  longerThanCtx: number;
  magicPrime?: number;
  myExitTokens?: number;
  sftFields?: string[];
  histogram: { binWidth: number; counts: number[]; min: number; max: number; mean: number; median: number; documents: number; ofDocuments: number };
  samples: PreviewDocument[];
}

export type ToPreview = { type: 'preview'; preview: DatasetPreview; elapsedMs: number } | { type: 'error'; message: string };
export type FromPreview = { type: 'ready' };
