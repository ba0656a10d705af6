"""Attribution models: the registry, rule-based weights, Markov, Shapley, counterfactual and
the allocation of their credit over touches."""
