// The dashboard's words in English and Chinese; the page's <html lang> picks one.
const en = {
  loss: 'Loss', lr: 'Learning rate', tokensPerS: 'Tokens/s', memory: 'GPU memory', xAxis: 'X axis', step: 'Step', realStep: 'RWKV step (epoch_begin × epoch_steps + step)', tokens: 'Tokens', time: 'Time (s)',
  smoothing: 'Smoothing', exportPng: 'Export PNG', exportCsv: 'Export CSV', runs: 'Runs', run: 'Run', status: 'Status', steps: 'Steps',
  bestLoss: 'Best loss', duration: 'Duration', config: 'Config', stop: 'Stop', resume: 'Resume', raw: 'raw', smoothed: 'smoothed', skipped: 'skipped step',
  used: 'used', reserved: 'reserved', total: 'total', noRuns: 'No runs yet. Press Run Training above a train.py call, or open a metrics.jsonl / loss_data.jsonl.',
};
const zh: typeof en = {
  loss: '损失', lr: '学习率', tokensPerS: '每秒 token 数', memory: '显存', xAxis: '横轴', step: '步数', realStep: 'RWKV 步数(epoch_begin × epoch_steps + 步数)', tokens: 'token 数', time: '时间(秒)',
  smoothing: '平滑', exportPng: '导出 PNG', exportCsv: '导出 CSV', runs: '运行记录', run: '运行', status: '状态', steps: '步数',
  bestLoss: '最佳损失', duration: '时长', config: '配置', stop: '停止', resume: '继续', raw: '原始', smoothed: '平滑', skipped: '跳过的步',
  used: '已用', reserved: '已预留', total: '总量', noRuns: '还没有运行记录。点击 train.py 调用上方的"开始训练",或打开 metrics.jsonl / loss_data.jsonl。',
};
export type Strings = typeof en;
export function stringsFor(lang: string): Strings {
  return lang.toLowerCase().startsWith('zh') ? zh : en;
}
