"""The interactive explorer: a Streamlit app over the graph (data, figures, app)."""
