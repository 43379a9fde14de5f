"""What a sweep's table says. Everything here reads tables that `modlib.sweep` wrote and returns
numbers or tables; nothing trains. One module per part of the book, each importing only the
modules listed before it. Each with what it computes, then the chapters that read it:

- ``stats``: intervals of means, differences and rank correlations that hold with few seeds,
  and the one way an estimate is written. Every part, through the modules below; Results.
- ``frames``: each model's specialization; means, curves and paired comparisons. Results, Raw
  metrics, Training, and the parts below.
- ``onsets``: where a curve starts to rise, and how firmly the seeds place it. Results, Where
  specialization appears.
- ``masks``: the weight mask's q and settings, masks on untrained networks (claim (f)). The
  weight-mask metric, Results, Discussion, Introduction.
- ``claims``: the paper's claims (a)-(f) and their verdicts under every onset criterion.
  Introduction, Results, Discussion, Tasks that need more than one bit.
- ``matrix``: the verdict matrix, claim by measure, for each module. Introduction.
- ``choices``: the variant sweeps, and each of the authors' choices both ways. Replication
  notes, Results.
- ``decisions``: which module decides, and module 0 against module 1. Results, Where
  specialization appears.
- ``bandwidth``: the modulus sweeps side by side. Tasks that need more than one bit.
- ``timecourse``: specialization over a trial's steps, and the journal version's four
  findings. Specialization over time.
- ``designs``: module size, readout and cell. Where specialization appears.
"""
