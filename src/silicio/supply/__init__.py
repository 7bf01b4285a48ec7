"""Supplier ecosystem: the supplier registry, multi-tier network risk, disruption stress tests,
Monte Carlo scenarios, nearshoring to local suppliers, and a public transparency view.

>>> from silicio import supply
>>> eco = supply.demo_ecosystem()
>>> g = eco.network()
>>> supply.stress_test(g, by="facility").filter(flagged=True)

Modules: :mod:`.registry` (tables, CSV/JSON, role separation), :mod:`.concentration` (HHI),
:mod:`.network` (the graph, single sources, critical paths), :mod:`.stress` (TTR/TTS LPs),
:mod:`.montecarlo` (scenarios, VaR, CVaR), :mod:`.nearshore` (local matches, gaps),
:mod:`.transparency` (public aggregates), :mod:`.demo` (demo ecosystem, synthetic networks),
:mod:`.dataset` (a model from the user's CSV files), :mod:`.template` (an example folder),
:mod:`.scenarios` (named what-if scenarios from the CLI or TOML).

Names are imported on first use (PEP 562), so that worker processes which need only the LP or
the Monte Carlo start without loading the trace and origin packages.
"""

from __future__ import annotations

from silicio._lazy import lazy_exports

#: Public name -> the module of this package that defines it.
_EXPORTS = {
    "AccessDenied": "registry",
    "Scenario": "scenarios",
    "SupplyData": "dataset",
    "SupplyDataError": "dataset",
    "component_concentration": "dataset",
    "read_scenarios": "scenarios",
    "read_supply_dir": "dataset",
    "run_scenarios": "scenarios",
    "write_template": "template",
    "Alternate": "network",
    "BorderDelay": "montecarlo",
    "CERTIFICATIONS": "registry",
    "CONFIDENTIAL_COLUMNS": "registry",
    "CompiledNetwork": "network",
    "DEMO_DATE": "demo",
    "DEMO_DEMAND": "demo",
    "Disruption": "stress",
    "DisruptionModel": "montecarlo",
    "Ecosystem": "demo",
    "HIGHLY_CONCENTRATED": "concentration",
    "MonteCarloResult": "montecarlo",
    "NearshoreReport": "nearshore",
    "NetworkError": "network",
    "ORG_KINDS": "registry",
    "Pandemic": "montecarlo",
    "ROLES": "registry",
    "Registry": "registry",
    "RegistryError": "registry",
    "SIZE_CLASSES": "registry",
    "SiteOutages": "montecarlo",
    "SupplierView": "registry",
    "build_network": "network",
    "compile_network": "network",
    "concentration_level": "concentration",
    "conditional_value_at_risk": "montecarlo",
    "country_concentration": "network",
    "critical_paths": "network",
    "demo_ecosystem": "demo",
    "disruption": "stress",
    "hhi": "concentration",
    "hhi_of_values": "concentration",
    "monte_carlo": "montecarlo",
    "nearshore": "nearshore",
    "network_table": "network",
    "product_nodes": "network",
    "public_summary": "transparency",
    "publishable": "transparency",
    "read_csv_dir": "registry",
    "read_json": "registry",
    "share_from": "concentration",
    "shares_pct": "concentration",
    "single_sources": "network",
    "stress_test": "stress",
    "synthetic_network": "demo",
    "value_at_risk": "montecarlo",
    "visible_to": "registry",
    "write_csv_dir": "registry",
    "write_json": "registry",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
