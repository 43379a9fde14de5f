"""What a sweep's table says. Everything here reads tables that `modlib.sweep` wrote and returns
numbers or tables; nothing trains. One module per part of the book, each importing only the
modules above it in this list:

==============  ================================================  ==================================
module          what it computes                                  chapters that read it
==============  ================================================  ==================================
``stats``       intervals of means, differences and rank          every part, through the modules
                correlations that hold with few seeds; the one    below; Results
                way an estimate is written
``frames``      each model's specialization; means, curves,       Results, Raw metrics, Training,
                paired comparisons                                and the parts below
``onsets``      where a curve starts to rise, and how firmly      Results, Where specialization
                the seeds place it                                appears
``masks``       the weight mask's q, its settings, masks on       The weight-mask metric, Results,
                untrained networks (claim (f))                    Discussion, Introduction
``claims``      the paper's claims (a)-(f) and their verdicts     Introduction, Results, Discussion,
                under every onset criterion                       Tasks that need more than one bit
``matrix``      the verdict matrix: claim x measure, each module  Introduction
``choices``     the variant sweeps; each authors' choice both     Replication notes, Results
                ways
``decisions``   which module decides, and module 0 against       Results, Where specialization
                module 1                                          appears
``bandwidth``   the modulus sweeps side by side                   Tasks that need more than one bit
``timecourse``  specialization over a trial's steps; the journal  Specialization over time
                version's four findings
``designs``     module size, readout and cell                     Where specialization appears
==============  ================================================  ==================================
"""
